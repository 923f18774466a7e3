// Line and scatter charts through plotly.js (plotly.js-dist-min), loaded on first use as its own
// chunk: the pages without a chart never download it. Plotly rather than uPlot because the
// studies pages need what uPlot lacks (parallel coordinates, contour, importance bars, Pareto
// fronts, as optuna-dashboard draws them); one plotting library for the whole UI.
import { useEffect, useRef, useState } from "react";
import { useI18n } from "../i18n";
import { ErrorBox, Loading } from "./status";

export interface Series {
  name: string;
  x: number[];
  y: number[];
  mode?: "lines" | "markers" | "lines+markers";
}

type PlotlyModule = {
  react: (el: HTMLElement, data: unknown[], layout: unknown, config: unknown) => Promise<unknown>;
  purge: (el: HTMLElement) => void;
};
let plotly: Promise<PlotlyModule> | null = null;
export const loadPlotly = () =>
  (plotly ??= import("plotly.js-dist-min").then((m) => ((m as { default?: PlotlyModule }).default ?? m) as PlotlyModule));

export function Chart({ series, title, xTitle, yTitle, height = 300 }: { series: Series[]; title: string; xTitle?: string; yTitle?: string; height?: number }) {
  const { t } = useI18n();
  const el = useRef<HTMLDivElement>(null);
  const [state, setState] = useState<"loading" | "ready" | Error>("loading");
  useEffect(() => {
    let gone = false;
    loadPlotly()
      .then((P) => {
        if (gone || !el.current) return;
        const data = series.map((s) => ({ type: "scatter", name: s.name, x: s.x, y: s.y, mode: s.mode ?? "lines+markers" }));
        const layout = {
          title: { text: title, font: { size: 14 } },
          height,
          margin: { l: 50, r: 20, t: 40, b: 40 },
          xaxis: { title: { text: xTitle ?? "" } },
          yaxis: { title: { text: yTitle ?? "" } },
          legend: { orientation: "h" },
        };
        return P.react(el.current, data, layout, { responsive: true, displaylogo: false }).then(() => {
          if (!gone) setState("ready");
        });
      })
      .catch((e: Error) => {
        if (!gone) setState(e);
      });
    return () => {
      gone = true;
    };
  }, [series, title, xTitle, yTitle, height]);
  useEffect(() => {
    const node = el.current;
    return () => {
      if (node) void loadPlotly().then((P) => P.purge(node));
    };
  }, []);
  return (
    <figure className="chart" aria-label={title}>
      {state === "loading" && <Loading label={t("chart.loading")} />}
      {state instanceof Error && <ErrorBox error={state} />}
      <div ref={el} data-testid="chart" data-ready={state === "ready"} />
    </figure>
  );
}
