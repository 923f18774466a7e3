// The study's plots, drawn with plotly from GET /studies/{id}/plots, read incrementally
// (usePlots: ?after=fixed_trials) while the study runs. An empty plot says why instead.
import { useMemo, useState } from "react";
import { Figure } from "../../components/Figure";
import { ErrorBox, Loading } from "../../components/status";
import { useI18n, type Key } from "../../i18n";
import { contourFig, hasWebGL, noWebGL, historyFig, importanceFig, intermediateFig, paretoFig, parallelFig, sliceFig, type Fig, type Labels } from "./figures";
import type { Plots } from "./types";
import { usePlots } from "./usePlots";

export function StudyPlots({ studyId, live }: { studyId: string; live: boolean }) {
  const { t } = useI18n();
  const { plots, error, reads, after } = usePlots(studyId, live);
  if (!plots) return error ? <ErrorBox error={error} /> : <Loading label={t("studies.plotsLoading")} />;
  return (
    <section className="card" aria-labelledby="plots-title" data-testid="study-plots" data-reads={reads} data-after={after}>
      <h2 id="plots-title">{t("studies.plots")}</h2>
      {error !== undefined && <ErrorBox error={error} />}
      <PlotGrid plots={plots} />
    </section>
  );
}

// why a plot is empty, as runtime/services/study_plots.py says it, in the page's language
const WHY: Record<string, Key> = {
  "no completed trials yet": "studies.empty.noCompleted",
  "no intermediate values reported yet": "studies.empty.noIntermediate",
  "needs at least 3 completed trials and one parameter": "studies.empty.importance",
  "needs two parameters": "studies.empty.twoParams",
  "needs at least 3 completed trials with both parameters": "studies.empty.contour",
  "no feasible trial: the front is empty": "studies.empty.noFeasible",
};

function Empty({ title, message, testId }: { title: string; message?: string; testId: string }) {
  const { t } = useI18n();
  const key = message ? WHY[message] : undefined;
  return (
    <figure className="chart plot-empty" aria-label={title} data-testid={testId} data-empty="true">
      <figcaption>{title}</figcaption>
      <p className="muted">{key ? t(key) : (message ?? t("common.empty"))}</p>
    </figure>
  );
}

function Plot({ title, fig, testId, height, onDrawn }: { title: string; fig: Fig; testId: string; height?: number; onDrawn?: (el: HTMLDivElement) => void }) {
  return <Figure title={title} data={fig.data} layout={fig.layout} points={fig.points} testId={testId} height={height} onDrawn={onDrawn} />;
}

function PlotGrid({ plots }: { plots: Plots }) {
  const { t } = useI18n();
  const L: Labels = useMemo(
    () => ({
      trial: t("studies.trial"),
      value: t("studies.value"),
      best: t("studies.bestSoFar"),
      infeasible: t("studies.infeasible"),
      pruned: t("studies.state.pruned"),
      step: t("studies.step"),
      importance: t("studies.importance"),
      front: t("studies.front"),
      dominated: t("studies.dominated"),
    }),
    [t],
  );
  const [gl, setGl] = useState(hasWebGL);
  const checkGl = (el: HTMLDivElement) => {
    if (gl && el.querySelector(".no-webgl")) {
      noWebGL(); // plotly could not start WebGL after all: draw the SVG lines instead
      setGl(false);
    }
  };
  const figs = useMemo(
    () => ({
      history: plots.history.empty ? [] : plots.history.objectives.map((_, k) => historyFig(plots.history, k, L)),
      intermediate: plots.intermediate.empty ? null : intermediateFig(plots.intermediate, L),
      parallel: plots.parallel_coordinates.empty ? null : parallelFig(plots.parallel_coordinates, gl),
      importance: plots.importance.empty ? null : importanceFig(plots.importance, L),
      slices: plots.slice.empty ? [] : plots.slice.params.map((_, i) => sliceFig(plots.slice, i, L)),
      contour: plots.contour.empty ? null : contourFig(plots.contour, L),
      pareto: plots.pareto_front.empty || (plots.pareto_front.objective_names?.length ?? 0) < 2 ? null : paretoFig(plots.pareto_front, L),
    }),
    [plots, L, gl],
  );
  const [slice, setSlice] = useState(0);
  const multi = (plots.pareto_front.objective_names?.length ?? 0) > 1;
  return (
    <div className="plots">
      {figs.history.length === 0 ? (
        <Empty title={t("studies.history")} message={plots.history.message} testId="plot-history" />
      ) : (
        figs.history.map((f, k) => <Plot key={k} title={`${t("studies.history")} · ${plots.history.objectives[k].name}`} fig={f} testId={k === 0 ? "plot-history" : `plot-history-${k}`} />)
      )}
      {figs.intermediate ? (
        <Plot title={t("studies.intermediate")} fig={figs.intermediate} testId="plot-intermediate" />
      ) : (
        <Empty title={t("studies.intermediate")} message={plots.intermediate.message} testId="plot-intermediate" />
      )}
      {figs.parallel ? (
        <Plot key={gl ? "webgl" : "svg"} title={t("studies.parallel")} fig={figs.parallel} testId="plot-parallel" height={360} onDrawn={checkGl} />
      ) : (
        <Empty title={t("studies.parallel")} message={plots.parallel_coordinates.message} testId="plot-parallel" />
      )}
      {figs.importance ? (
        <Plot title={t("studies.importance")} fig={figs.importance} testId="plot-importance" />
      ) : (
        <Empty title={t("studies.importance")} message={plots.importance.message} testId="plot-importance" />
      )}
      {figs.slices.length ? (
        <div className="plot-slice">
          <label className="row">
            {t("studies.sliceParam")}
            <select value={slice} onChange={(e) => setSlice(Number(e.target.value))} data-testid="slice-param">
              {plots.slice.params.map((p, i) => (
                <option key={p.name} value={i}>
                  {p.name}
                </option>
              ))}
            </select>
          </label>
          <Plot title={`${t("studies.slice")} · ${plots.slice.params[slice]?.name ?? ""}`} fig={figs.slices[slice] ?? figs.slices[0]} testId="plot-slice" />
        </div>
      ) : (
        <Empty title={t("studies.slice")} message={plots.slice.message} testId="plot-slice" />
      )}
      {figs.contour ? (
        <Plot title={`${t("studies.contour")} · ${plots.contour.x?.name} × ${plots.contour.y?.name}`} fig={figs.contour} testId="plot-contour" />
      ) : (
        <Empty title={t("studies.contour")} message={plots.contour.message} testId="plot-contour" />
      )}
      {multi &&
        (figs.pareto ? (
          <Plot title={t("studies.pareto")} fig={figs.pareto} testId="plot-pareto" />
        ) : (
          <Empty title={t("studies.pareto")} message={plots.pareto_front.message} testId="plot-pareto" />
        ))}
    </div>
  );
}
