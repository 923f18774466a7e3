import { useMemo, useState } from "react";
import { enc, get, post } from "../../api/client";
import type { LogPage, RunDetail as Run } from "../../api/types";
import { Graph } from "../../components/graph/Graph";
import { LogView } from "../../components/LogView";
import { Page } from "../../components/Page";
import { Async, ErrorBox, StatusBadge } from "../../components/status";
import { useI18n } from "../../i18n";
import { seconds, when } from "../../lib/format";
import { useAsync, useInterval } from "../../lib/useAsync";
import { runGraph } from "./runGraph";

const ENDED = ["succeeded", "failed", "cancelled"];

export function RunDetail({ params }: { params: Record<string, string> }) {
  const { t, lang } = useI18n();
  const id = params.runId;
  const run = useAsync((s) => get<Run>(`/runs/${enc(id)}`, undefined, s), [id]);
  const live = run.data !== undefined && !ENDED.includes(run.data.status);
  useInterval(run.reload, 2000, live);
  const [selected, setSelected] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const graph = useMemo(() => (run.data ? runGraph(run.data) : null), [run.data]);
  const cancel = async () => {
    setError(null);
    try {
      await post(`/runs/${enc(id)}/cancel`, { reason: "cancelled in the UI" });
      run.reload();
    } catch (err) {
      setError(err);
    }
  };
  return (
    <Async state={run}>
      {(r) => {
        const g = graph!;
        const step = selected ?? r.current_step ?? g.nodes[g.nodes.length - 1]?.id ?? null;
        const attempts = step ? g.attempts[step] ?? [] : [];
        const job = [...attempts].reverse().find((a) => a.job)?.job ?? null;
        return (
          <Page
            title={
              <>
                {t("runs.run")} <code>{r.run_id}</code>
              </>
            }
            actions={
              live && (
                <button type="button" className="danger" onClick={() => void cancel()}>
                  {t("common.cancel")}
                </button>
              )
            }
          >
            <dl className="facts">
              <dt>{t("runs.workflow")}</dt>
              <dd>{r.workflow}</dd>
              <dt>{t("runs.status")}</dt>
              <dd>
                <StatusBadge status={r.status} />
              </dd>
              <dt>{t("runs.started")}</dt>
              <dd>{when(r.started_at, lang)}</dd>
              <dt>{t("runs.duration")}</dt>
              <dd>{seconds(r.duration_s)}</dd>
              {r.error && (
                <>
                  <dt>{t("runs.error")}</dt>
                  <dd className="bad">
                    {r.error}: {r.cause}
                  </dd>
                </>
              )}
            </dl>
            {error !== null && <ErrorBox error={error} />}
            <Graph nodes={g.nodes} edges={g.edges} selected={step} onSelect={setSelected} label={t("runs.graph")} />
            <div className="row wrap" role="toolbar" aria-label={t("runs.steps")}>
              {g.nodes.map((n) => (
                <button key={n.id} type="button" aria-pressed={n.id === step} onClick={() => setSelected(n.id)} className="chip">
                  {n.label} <StatusBadge status={n.status} />
                </button>
              ))}
            </div>
            {step && (
              <section className="card" aria-labelledby="step-title">
                <h2 id="step-title">
                  {t("runs.step")}: {step}
                </h2>
                <table>
                  <thead>
                    <tr>
                      <th scope="col">{t("runs.attempt")}</th>
                      <th scope="col">{t("runs.status")}</th>
                      <th scope="col">{t("runs.started")}</th>
                      <th scope="col">{t("runs.duration")}</th>
                      <th scope="col">{t("runs.job")}</th>
                      <th scope="col">{t("runs.error")}</th>
                    </tr>
                  </thead>
                  <tbody>
                    {attempts.map((a, i) => (
                      <tr key={i}>
                        <td>{a.attempt}</td>
                        <td>
                          <StatusBadge status={a.status} />
                        </td>
                        <td>{when(a.started_at, lang)}</td>
                        <td>{seconds(a.duration_s)}</td>
                        <td>{a.job ? <code>{a.job}</code> : "–"}</td>
                        <td>{a.error ? `${a.error.error}: ${a.error.cause}` : "–"}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
                {job ? <JobLog job={job} owner={r.owner ?? null} live={live} /> : <p className="muted">{t("runs.noJob")}</p>}
              </section>
            )}
          </Page>
        );
      }}
    </Async>
  );
}

/** A step's job log, read where its owner keeps it: a training's jobs, a compile's log (all its
 * jobs in order), or an architecture test's job (the only jobs /jobs/<name> knows). */
function JobLog({ job, owner, live }: { job: string; owner: Run["owner"]; live: boolean }) {
  const { t } = useI18n();
  const fetchPage = (start: number) =>
    owner?.kind === "training"
      ? get<LogPage>(`/trainings/${enc(owner.id)}/logs`, { start, job })
      : owner?.kind === "compile"
        ? get<LogPage>(`/compiles/${enc(owner.id)}/logs`, { start })
        : get<LogPage>(`/jobs/${enc(job)}/logs`, { start });
  return <LogView key={job} title={t("runs.log", { job })} fetchPage={fetchPage} live={live} />;
}
