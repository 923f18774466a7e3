// The plot JSON of GET /studies/{id}/plots turned into plotly traces and layouts (pure functions;
// StudyPlots draws them). Categorical axes arrive as choice indices with their labels; log-scaled
// parameters keep raw values and are drawn on log axes (parallel coordinates: log10 values).
import type { AxisInfo, ContourPlot, HistoryPlot, ImportancePlot, IntermediatePlot, ParallelPlot, ParetoPlot, SlicePlot } from "./types";

export interface Fig {
  data: unknown[];
  layout: Record<string, unknown>;
  points: number;
}

export interface Labels {
  trial: string;
  value: string;
  best: string;
  infeasible: string;
  pruned: string;
  step: string;
  importance: string;
  front: string;
  dominated: string;
}

const MARK = { size: 8 };
const BAD = { size: 8, symbol: "x", color: "#9aa5b8" };

/** Axis settings for a parameter: log type, or the choices' names at their indices. */
export function axisFor(a: Pick<AxisInfo, "name" | "log" | "labels">): Record<string, unknown> {
  if (a.labels) return { title: { text: a.name }, tickvals: a.labels.map((_, i) => i), ticktext: a.labels.map(String) };
  return { title: { text: a.name }, type: a.log ? "log" : "linear" };
}

export function historyFig(plot: HistoryPlot, k: number, L: Labels): Fig {
  const o = plot.objectives[k];
  const ok = o.points.filter((p) => p.feasible);
  const bad = o.points.filter((p) => !p.feasible);
  const data = [
    { type: "scatter", mode: "markers", name: o.name, x: ok.map((p) => p.number), y: ok.map((p) => p.value), marker: MARK },
    { type: "scatter", mode: "lines", name: L.best, x: o.best.map((p) => p.number), y: o.best.map((p) => p.value), line: { shape: "hv", color: "#b42318" } },
  ];
  if (bad.length) data.push({ type: "scatter", mode: "markers", name: L.infeasible, x: bad.map((p) => p.number), y: bad.map((p) => p.value), marker: BAD });
  return { data, layout: { xaxis: { title: { text: L.trial } }, yaxis: { title: { text: `${o.name} (${o.direction})` } } }, points: o.points.length };
}

export function intermediateFig(plot: IntermediatePlot, L: Labels): Fig {
  const many = plot.trials.length > 12;
  const data = plot.trials.map((r) => ({
    type: "scatter",
    mode: "lines+markers",
    name: `${L.trial} ${r.number}${r.pruned ? ` (${L.pruned})` : ""}`,
    x: r.steps,
    y: r.values,
    line: { dash: r.pruned ? "dot" : "solid" },
    marker: { size: 5 },
  }));
  return {
    data,
    layout: { showlegend: !many, xaxis: { title: { text: L.step } }, yaxis: { title: { text: L.value } } },
    points: plot.trials.reduce((n, r) => n + r.values.length, 0),
  };
}

const log10 = (v: number | null) => (v === null || v <= 0 ? null : Math.log10(v));

/** Rows complete on every axis; when fewer than two, the axes every row has (inactive
 * conditional parameters leave holes a line cannot cross). */
function parallelRows(plot: ParallelPlot) {
  const dims = plot.dimensions.map((d) => ({ ...d, values: d.log ? d.values.map(log10) : d.values }));
  const full = plot.trials.map((_, i) => i).filter((i) => dims.every((d) => d.values[i] !== null));
  if (full.length >= 2 || dims.length <= 1) return { dims, rows: full };
  const kept = dims.filter((d) => d.values.every((v) => v !== null));
  return { dims: kept, rows: plot.trials.map((_, i) => i) };
}

export function parallelFig(plot: ParallelPlot, webgl: boolean): Fig {
  const { dims, rows } = parallelRows(plot);
  const short = (name: string) => name.replace(/^(architecture|training|data)\./, "");
  const label = (d: (typeof dims)[number]) => (d.log ? `${short(d.name)} (log10)` : short(d.name));
  const range = (d: (typeof dims)[number]) => (d.range ? (d.log ? d.range.map((v) => log10(v) ?? 0) : d.range) : undefined);
  if (webgl) {
    const data = [
      {
        type: "parcoords",
        line: { color: rows.map((i) => dims[0].values[i] as number), colorscale: "Viridis", showscale: true },
        dimensions: dims.map((d) => ({
          label: label(d),
          values: rows.map((i) => d.values[i] as number),
          range: range(d),
          ...(d.labels ? { tickvals: d.labels.map((_, j) => j), ticktext: d.labels.map(String) } : {}),
        })),
      },
    ];
    return { data, layout: { margin: { l: 70, r: 70, t: 60, b: 30 } }, points: rows.length };
  }
  // no WebGL (parcoords needs it): the same lines drawn in SVG over axes scaled to [0, 1]
  const scaled = dims.map((d) => {
    const [lo, hi] = (range(d) as number[] | undefined) ?? [Math.min(...(d.values.filter((v) => v !== null) as number[])), Math.max(...(d.values.filter((v) => v !== null) as number[]))];
    return (v: number | null) => (v === null ? null : hi === lo ? 0.5 : (v - lo) / (hi - lo));
  });
  const data = rows.map((i) => ({
    type: "scatter",
    mode: "lines+markers",
    showlegend: false,
    hoverinfo: "text",
    text: dims.map((d) => `${d.name}: ${d.labels ? String(d.labels[d.values[i] as number]) : d.values[i]}`),
    x: dims.map((_, j) => j),
    y: dims.map((d, j) => scaled[j](d.values[i])),
    marker: { size: 6 },
    line: { width: 1 },
  }));
  return {
    data,
    layout: {
      xaxis: { tickvals: dims.map((_, j) => j), ticktext: dims.map(label), tickangle: 0, showgrid: true, gridcolor: "#9aa5b8", zeroline: false },
      yaxis: { range: [-0.05, 1.05], showticklabels: false, zeroline: false },
    },
    points: rows.length,
  };
}

export function sliceFig(plot: SlicePlot, index: number, L: Labels): Fig {
  const p = plot.params[index];
  const ok = p.points.filter((x) => x.feasible);
  const bad = p.points.filter((x) => !x.feasible);
  const data: unknown[] = [
    { type: "scatter", mode: "markers", name: plot.objective_name ?? L.value, x: ok.map((x) => x.x), y: ok.map((x) => x.y), text: ok.map((x) => `${L.trial} ${x.number}`), marker: { ...MARK, color: ok.map((x) => x.number), colorscale: "Blues" } },
  ];
  if (bad.length) data.push({ type: "scatter", mode: "markers", name: L.infeasible, x: bad.map((x) => x.x), y: bad.map((x) => x.y), marker: BAD });
  return { data, layout: { showlegend: false, xaxis: axisFor(p), yaxis: { title: { text: plot.objective_name ?? L.value } } }, points: p.points.length };
}

export function importanceFig(plot: ImportancePlot, L: Labels): Fig {
  const o = plot.objectives[0];
  const params = [...o.params].reverse(); // most important on top
  return {
    data: [{ type: "bar", orientation: "h", x: params.map((p) => p.importance), y: params.map((p) => p.name), name: L.importance, marker: { color: "#1f4f8f" } }],
    layout: { showlegend: false, xaxis: { title: { text: L.importance }, range: [0, 1] }, margin: { l: 200, r: 20, t: 40, b: 50 } },
    points: params.length,
  };
}

export function contourFig(plot: ContourPlot, L: Labels): Fig {
  const x = plot.x!, y = plot.y!;
  return {
    data: [
      { type: "contour", x: x.grid, y: y.grid, z: plot.z, colorscale: "Viridis", contours: { coloring: "heatmap" }, name: plot.objective_name },
      { type: "scatter", mode: "markers", x: plot.points.map((p) => p.x), y: plot.points.map((p) => p.y), text: plot.points.map((p) => `${L.trial} ${p.number}: ${p.z}`), marker: { color: "#fff", size: 7, line: { color: "#1d2330", width: 1 } }, showlegend: false },
    ],
    layout: { xaxis: axisFor(x), yaxis: axisFor(y) },
    points: plot.points.length,
  };
}

export function paretoFig(plot: ParetoPlot, L: Labels): Fig {
  const names = plot.objective_names ?? ["0", "1"];
  const series = (rows: { number: number; values: number[] }[] | undefined, name: string, extra: Record<string, unknown>) => ({
    type: "scatter",
    name,
    x: (rows ?? []).map((r) => r.values[0]),
    y: (rows ?? []).map((r) => r.values[1]),
    text: (rows ?? []).map((r) => `${L.trial} ${r.number}`),
    ...extra,
  });
  const data = [
    series(plot.front, L.front, { mode: "lines+markers", marker: { size: 9, color: "#b42318" } }),
    series(plot.dominated, L.dominated, { mode: "markers", marker: { size: 7, color: "#1f4f8f" } }),
    series(plot.infeasible, L.infeasible, { mode: "markers", marker: BAD }),
  ];
  const dir = plot.directions ?? [];
  return {
    data,
    layout: { xaxis: { title: { text: `${names[0]} (${dir[0] ?? ""})` } }, yaxis: { title: { text: `${names[1]} (${dir[1] ?? ""})` } } },
    points: (plot.front?.length ?? 0) + (plot.dominated?.length ?? 0) + (plot.infeasible?.length ?? 0),
  };
}

let gl: boolean | null = null;
/** Called when plotly could not draw a WebGL trace after all: later figures use SVG. */
export function noWebGL(): void {
  gl = false;
}
/** Whether this browser draws WebGL (plotly's parcoords needs it). */
export function hasWebGL(): boolean {
  if (gl === null && typeof window !== "undefined" && new URLSearchParams(window.location.search).has("nowebgl")) gl = false;
  if (gl === null) {
    try {
      const ctx = document.createElement("canvas").getContext("webgl");
      // what plotly's regl asks for; without them it shows "WebGL is not supported" instead
      gl = !!ctx && !!ctx.getExtension("ANGLE_instanced_arrays") && !!ctx.getExtension("OES_element_index_uint");
    } catch {
      gl = false;
    }
  }
  return gl;
}
