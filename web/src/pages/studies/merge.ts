// Incremental plot reads, as optuna-dashboard polls: GET /studies/{id}/plots?after=N answers the
// per-trial plots (history, intermediate values, parallel coordinates, slices) only for trials
// numbered >= N, and says how many leading trials are finished (fixed_trials): those never change,
// so the client keeps their rows and asks with after=fixed_trials next time. The aggregates
// (importance, contour, Pareto front) always come whole and replace the old ones.
import type { Dimension, Plots } from "./types";

const before = <T extends { number: number }>(rows: T[] | undefined, after: number) => (rows ?? []).filter((r) => r.number < after);

export function mergePlots(prev: Plots | null, next: Plots, after: number): Plots {
  if (!prev || after <= 0) return next;
  const history = next.history.empty
    ? next.history
    : {
        ...next.history,
        objectives: next.history.objectives.map((o, k) => ({
          ...o,
          points: [...before(prev.history.objectives[k]?.points, after), ...o.points],
          best: [...before(prev.history.objectives[k]?.best, after), ...o.best],
        })),
      };
  const intermediate = next.intermediate.empty && prev.intermediate.empty
    ? next.intermediate
    : { ...next.intermediate, empty: false, trials: [...before(prev.intermediate.trials, after), ...next.intermediate.trials] };
  const oldPc = prev.parallel_coordinates;
  const pc = next.parallel_coordinates;
  let parallel = pc;
  if (!pc.empty && !oldPc.empty) {
    const kept = oldPc.trials.map((n, i) => ({ n, i })).filter((x) => x.n < after);
    const byName = new Map(oldPc.dimensions.map((d) => [d.name, d]));
    const dimensions: Dimension[] = pc.dimensions.map((d) => {
      const old = byName.get(d.name);
      return { ...d, values: [...kept.map((x) => old?.values[x.i] ?? null), ...d.values] };
    });
    parallel = {
      ...pc,
      dimensions,
      trials: [...kept.map((x) => x.n), ...pc.trials],
      feasible: [...kept.map((x) => oldPc.feasible?.[x.i] ?? true), ...(pc.feasible ?? [])],
    };
  }
  const oldSlices = new Map(prev.slice.params?.map((p) => [p.name, p]) ?? []);
  const slice = next.slice.empty
    ? next.slice
    : { ...next.slice, params: next.slice.params.map((p) => ({ ...p, points: [...before(oldSlices.get(p.name)?.points, after), ...p.points] })) };
  return { ...next, history, intermediate, parallel_coordinates: parallel, slice };
}
