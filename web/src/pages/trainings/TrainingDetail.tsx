import { useEffect, useMemo, useRef, useState } from "react";
import { enc, get, post } from "../../api/client";
import type { LogPage } from "../../api/types";
import { Chart, type Series } from "../../components/Chart";
import { LogView } from "../../components/LogView";
import { Page } from "../../components/Page";
import { ProgressBar } from "../../components/ProgressBar";
import { Async, ErrorBox, StatusBadge } from "../../components/status";
import { useI18n } from "../../i18n";
import { parseMetrics, seconds, when } from "../../lib/format";
import { Link } from "../../lib/router";
import { useAsync, useInterval } from "../../lib/useAsync";

interface Training {
  training_id: string;
  project_id: string;
  name: string;
  state: string;
  run_id: string | null;
  current_step: string | null;
  error: string | null;
  cause: string | null;
  started_at: string | null;
  duration_s: number | null;
  jobs: { step: string; job: string; status: string }[];
  progress: { percent: number | null; eta_s: number | null; steps_per_s: number | null; phase: string | null };
  queue_position: number | null;
  model_id: string | null;
  dataset_id: string;
  config_id: string | null;
  metrics: Record<string, unknown> | null;
}

const ENDED = ["succeeded", "failed", "cancelled"];

export function TrainingDetail({ params }: { params: Record<string, string> }) {
  const { t, lang } = useI18n();
  const id = params.trainingId;
  const tr = useAsync((s) => get<Training>(`/trainings/${enc(id)}`, undefined, s), [id]);
  const live = tr.data !== undefined && !ENDED.includes(tr.data.state);
  useInterval(tr.reload, 2000, live);
  const [job, setJob] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  return (
    <Async state={tr}>
      {(x) => {
        const current = job ?? x.jobs[x.jobs.length - 1]?.job ?? null;
        const trainJob = (x.jobs.find((j) => /train/i.test(j.step)) ?? x.jobs[0])?.job ?? null;
        const p = x.progress;
        return (
          <Page
            title={x.name}
            actions={
              live && (
                <button
                  type="button"
                  className="danger"
                  onClick={() => post(`/trainings/${enc(id)}/cancel`, { reason: "cancelled in the UI" }).then(tr.reload, setError)}
                >
                  {t("common.cancel")}
                </button>
              )
            }
          >
            <dl className="facts">
              <dt>{t("runs.status")}</dt>
              <dd>
                <StatusBadge status={x.state} /> {x.current_step}
              </dd>
              <dt>{t("runs.started")}</dt>
              <dd>{when(x.started_at, lang)}</dd>
              <dt>{t("runs.duration")}</dt>
              <dd>{seconds(x.duration_s)}</dd>
              {x.run_id && (
                <>
                  <dt>{t("runs.run")}</dt>
                  <dd>
                    <Link to={`/runs/${enc(x.run_id)}`}>{x.run_id}</Link>
                  </dd>
                </>
              )}
              {x.model_id && (
                <>
                  <dt>{t("trainings.model")}</dt>
                  <dd>
                    <Link to={`/models/${enc(x.model_id)}`}>{x.model_id}</Link>
                  </dd>
                </>
              )}
              {x.error && (
                <>
                  <dt>{t("runs.error")}</dt>
                  <dd className="bad">
                    {x.error}: {x.cause}
                  </dd>
                </>
              )}
            </dl>
            <ProgressBar
              value={p.percent}
              label={t("trainings.progress")}
              text={
                p.percent === null
                  ? x.queue_position
                    ? t("trainings.queued", { n: x.queue_position })
                    : (p.phase ?? "")
                  : `${p.percent.toFixed(1)}% · ${t("trainings.eta")} ${seconds(p.eta_s)}${p.steps_per_s ? ` · ${p.steps_per_s.toFixed(2)} ${t("trainings.stepsPerS")}` : ""}`
              }
            />
            {error !== null && <ErrorBox error={error} />}
            {trainJob && <Curves key={trainJob} trainingId={id} job={trainJob} live={live} />}
            {x.metrics && (
              <section className="card">
                <h2>{t("trainings.metrics")}</h2>
                <dl className="facts">
                  {Object.entries(x.metrics)
                    .filter(([, v]) => typeof v === "number" || typeof v === "string")
                    .map(([k, v]) => (
                      <div key={k} className="fact">
                        <dt>{k}</dt>
                        <dd>{typeof v === "number" ? Number(v.toFixed(4)) : String(v)}</dd>
                      </div>
                    ))}
                </dl>
              </section>
            )}
            {x.jobs.length > 1 && (
              <label>
                {t("runs.job")}{" "}
                <select value={current ?? ""} onChange={(e) => setJob(e.target.value)}>
                  {x.jobs.map((j) => (
                    <option key={j.job} value={j.job}>
                      {j.step} · {j.job}
                    </option>
                  ))}
                </select>
              </label>
            )}
            {current && (
              <LogView
                key={current}
                title={t("runs.log", { job: current })}
                live={live}
                fetchPage={(start) => get<LogPage>(`/trainings/${enc(id)}/logs`, { start, job: current })}
              />
            )}
          </Page>
        );
      }}
    </Async>
  );
}

/** Loss and validation curves from the training job's metric lines, followed while it runs. */
function Curves({ trainingId, job, live }: { trainingId: string; job: string; live: boolean }) {
  const { t } = useI18n();
  const [lines, setLines] = useState<string[]>([]);
  const next = useRef(0);
  const busy = useRef(false);
  const pull = () => {
    if (busy.current) return;
    busy.current = true;
    get<LogPage>(`/trainings/${enc(trainingId)}/logs`, { start: next.current, job })
      .then((page) => {
        next.current = page.next;
        if (page.lines.length) setLines((l) => [...l, ...page.lines.filter((x) => x.includes("metric: "))]);
      })
      .catch(() => undefined) // the log view beside it shows fetch errors
      .finally(() => {
        busy.current = false;
      });
  };
  useEffect(pull, []); // eslint-disable-line react-hooks/exhaustive-deps
  useInterval(pull, 3000, live);
  // memoised: a Chart redraws when its series change, not on every parent render
  const [loss, acc] = useMemo(() => {
    const curves = parseMetrics(lines);
    const series = (keys: string[]): Series[] => keys.filter((k) => curves[k]).map((k) => ({ name: k, x: curves[k].step, y: curves[k].value }));
    return [series(["train_loss", "val_loss"]), series(["val_accuracy"])];
  }, [lines]);
  if (!loss.length && !acc.length) return null;
  return (
    <div className="grid2">
      {loss.length > 0 && <Chart series={loss} title={t("trainings.loss")} xTitle={t("trainings.step")} />}
      {acc.length > 0 && <Chart series={acc} title={t("trainings.accuracy")} xTitle={t("trainings.step")} />}
    </div>
  );
}
