// Line and scatter charts through plotly.js (plotly.js-dist-min), loaded on first use as its own
// chunk: the pages without a chart never download it. Plotly rather than uPlot because the
// studies pages need what uPlot lacks (parallel coordinates, contour, importance bars, Pareto
// fronts, as optuna-dashboard draws them); one plotting library for the whole UI.
import { useMemo } from "react";
import { Figure } from "./Figure";

export interface Series {
  name: string;
  x: number[];
  y: number[];
  mode?: "lines" | "markers" | "lines+markers";
}

export function Chart({ series, title, xTitle, yTitle, height = 300 }: { series: Series[]; title: string; xTitle?: string; yTitle?: string; height?: number }) {
  const data = useMemo(() => series.map((s) => ({ type: "scatter", name: s.name, x: s.x, y: s.y, mode: s.mode ?? "lines+markers" })), [series]);
  const layout = useMemo(
    () => ({ margin: { l: 50, r: 20, t: 40, b: 40 }, xaxis: { title: { text: xTitle ?? "" } }, yaxis: { title: { text: yTitle ?? "" } } }),
    [xTitle, yTitle],
  );
  const points = series.reduce((n, s) => n + s.y.length, 0);
  return <Figure title={title} data={data} layout={layout} points={points} testId="chart" height={height} />;
}
