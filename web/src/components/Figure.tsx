// One plotly figure from ready-made traces and layout (Chart's lines, the study plots: parallel
// coordinates, contour, bars, Pareto fronts...). plotly.js-dist-min is loaded on first use as
// its own chunk: the pages without a figure never download it.
// data-ready turns true once plotly has drawn it; data-points says how many data points it holds.
import { useEffect, useRef, useState } from "react";
import { useI18n } from "../i18n";
import { ErrorBox, Loading } from "./status";

type PlotlyModule = {
  react: (el: HTMLElement, data: unknown[], layout: unknown, config: unknown) => Promise<unknown>;
  purge: (el: HTMLElement) => void;
};
let plotly: Promise<PlotlyModule> | null = null;
const loadPlotly = () =>
  (plotly ??= import("plotly.js-dist-min").then((m) => ((m as { default?: PlotlyModule }).default ?? m) as PlotlyModule));

export interface FigureProps {
  title: string;
  data: unknown[];
  layout?: Record<string, unknown>;
  points: number;
  testId: string;
  height?: number;
  onDrawn?: (el: HTMLDivElement) => void; // after each draw (e.g. to see whether a WebGL trace failed)
}

export function Figure({ title, data, layout, points, testId, height = 320, onDrawn }: FigureProps) {
  const { t } = useI18n();
  const el = useRef<HTMLDivElement>(null);
  const [state, setState] = useState<"loading" | "ready" | Error>("loading");
  useEffect(() => {
    let gone = false;
    loadPlotly()
      .then((P) => {
        if (gone || !el.current) return;
        const full = { title: { text: title, font: { size: 14 } }, height, margin: { l: 60, r: 20, t: 40, b: 50 }, legend: { orientation: "h" }, ...layout };
        const node = el.current;
        return P.react(node, data, full, { responsive: true, displaylogo: false }).then(() => {
          if (gone) return;
          setState("ready");
          onDrawn?.(node);
        });
      })
      .catch((e: Error) => {
        if (!gone) setState(e);
      });
    return () => {
      gone = true;
    };
    // onDrawn is a notification, not an input of the drawing
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [data, layout, title, height]);
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
      <div ref={el} data-testid={testId} data-ready={state === "ready"} data-points={points} />
    </figure>
  );
}
