// What the studies pages read: the study and trial documents (typed from the OpenAPI document,
// with the fields it leaves open), and the plot JSON of GET /studies/{id}/plots
// (runtime/services/study_plots.py: every plot has "empty" and, when empty, a "message").
import type { components } from "../../api/schema";

type S = components["schemas"];
export type StudyItem = S["StudyItem"] & { strategy?: string; created_at?: string; best_value?: number[] | null };
export type Trial = S["Trial"] & {
  source?: string;
  std?: number[] | null;
  last_value?: number | null;
  pruned_step?: number | null;
  metrics?: Record<string, number>;
  reason?: string;
  job?: string | null;
  started_at?: string | null;
  ended_at?: string | null;
};
export type Study = S["Study"] & {
  best: Trial | null;
  objectives: { name: string; expression: string; direction: string }[];
  error?: string;
  max_wall_s?: number | null;
  target?: number | null;
  rounds?: number;
  config_id?: string;
  config_version?: number;
  dataset_id?: string;
  best_config_version?: number | null;
  run_id?: string;
  created_at?: string;
  ended_at?: string | null;
  pareto_front?: number[] | null;
};

interface PlotBase {
  kind: string;
  empty: boolean;
  message?: string;
}
export interface AxisInfo {
  name: string;
  kind: string;
  log: boolean;
  labels: unknown[] | null;
}
export interface HistoryPlot extends PlotBase {
  objectives: {
    name: string;
    direction: string;
    points: { number: number; value: number; feasible: boolean }[];
    best: { number: number; value: number; best_trial: number | null }[];
  }[];
}
export interface IntermediateRow {
  number: number;
  state: string;
  pruned: boolean;
  steps: number[];
  values: number[];
}
export interface IntermediatePlot extends PlotBase {
  trials: IntermediateRow[];
}
export interface Dimension extends AxisInfo {
  range: [number, number] | null;
  values: (number | null)[];
  direction?: string;
}
export interface ParallelPlot extends PlotBase {
  dimensions: Dimension[];
  trials: number[];
  feasible?: boolean[];
}
export interface SlicePoint {
  number: number;
  x: number;
  y: number;
  feasible: boolean;
}
export interface SlicePlot extends PlotBase {
  objective_name?: string;
  params: (AxisInfo & { points: SlicePoint[] })[];
}
export interface ImportancePlot extends PlotBase {
  method?: string;
  objectives: { name: string; params: { name: string; importance: number; omega_squared: number }[] }[];
}
export interface ContourPlot extends PlotBase {
  objective_name?: string;
  x?: AxisInfo & { grid?: number[] };
  y?: AxisInfo & { grid?: number[] };
  z?: number[][];
  points: { number: number; x: number; y: number; z: number; feasible: boolean }[];
}
export interface ParetoPlot extends PlotBase {
  objective_names?: string[];
  directions?: string[];
  front?: { number: number; values: number[] }[];
  dominated?: { number: number; values: number[] }[];
  infeasible?: { number: number; values: number[] }[];
}
export interface Plots {
  study_id: string | null;
  after: number | null;
  fixed_trials: number;
  n_trials: number;
  states: Record<string, number>;
  trials: number[];
  history: HistoryPlot;
  intermediate: IntermediatePlot;
  parallel_coordinates: ParallelPlot;
  slice: SlicePlot;
  importance: ImportancePlot;
  contour: ContourPlot;
  pareto_front: ParetoPlot;
}

/** A study that no longer changes: its plots are read once more, then polling stops. */
export const isSettled = (s: Pick<Study, "status">) => !["running", "cancelling"].includes(s.status);
