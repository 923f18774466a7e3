import type { components } from "../../api/schema";

type S = components["schemas"];
export type Version = S["Version"];
export type Deployment = S["Deployment"];
export type Metrics = S["DeploymentMetrics"];
export type Predictions = S["Predictions"];
export type Aliases = S["Aliases"];
export type VersionDiff = S["VersionDiff"];

/** One metrics point as `domain.releases.monitoring.series` writes it. */
export interface MetricPoint {
  at: string | number;
  invocations: number;
  errors: number;
  p50_ms: number | null;
  p95_ms: number | null;
  p99_ms: number | null;
  weight: number;
}
export interface MetricSeries {
  slot: string;
  version_id: string;
  points: MetricPoint[];
  invocations: number;
  errors: number;
}
