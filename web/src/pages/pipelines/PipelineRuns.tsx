import { useEffect, useState } from "react";
import { enc, get, post } from "../../api/client";
import { ErrorBox, StatusBadge } from "../../components/status";
import { useI18n } from "../../i18n";
import { Link } from "../../lib/router";
import { useInterval } from "../../lib/useAsync";

interface PipelineRun {
  run_id: string;
  pipeline_id: string;
  pipeline_version: number;
  status: string | null;
  error: string | null;
  cause: string | null;
  nodes: Record<string, { status: string; outputs: unknown; error: unknown }>;
}

const ENDED = ["succeeded", "failed", "cancelled"];

const describe = (e: unknown) =>
  typeof e === "object" && e !== null && "cause" in e ? `${String((e as { error?: string }).error ?? "")}: ${String((e as { cause: unknown }).cause)}` : JSON.stringify(e);

/** Start a run of the shown version and watch it: its status, and each node's on the graph. */
export function PipelineRuns({ pipelineId, version, onStatuses }: { pipelineId: string; version: number; onStatuses: (s: Record<string, string>) => void }) {
  const { t } = useI18n();
  const [runId, setRunId] = useState<string | null>(null);
  const [run, setRun] = useState<PipelineRun | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const refresh = async (id: string) => {
    try {
      const r = await get<PipelineRun>(`/pipeline-runs/${enc(id)}`);
      setRun(r);
      onStatuses(Object.fromEntries(Object.entries(r.nodes).map(([k, v]) => [k, v.status])));
    } catch (e) {
      setError(e);
    }
  };
  useEffect(() => {
    if (runId) void refresh(runId);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [runId]);
  useInterval(() => runId && void refresh(runId), 2000, runId !== null && (run === null || !ENDED.includes(run.status ?? "")));
  const start = async () => {
    setError(null);
    setBusy(true);
    try {
      const r = await post<{ run_id: string }>(`/pipelines/${enc(pipelineId)}/runs?version=${version}`);
      setRun(null);
      setRunId(r.run_id);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <section className="card" aria-labelledby="runs-title">
      <div className="row between">
        <h2 id="runs-title">{t("pipelines.runs")}</h2>
        <button type="button" onClick={() => void start()} disabled={busy}>
          {t("pipelines.run", { version })}
        </button>
      </div>
      {error !== null && <ErrorBox error={error} />}
      {runId && (
        <div data-testid="pipeline-run">
          <p>
            <Link to={`/runs/${enc(runId)}`}>
              <code>{runId}</code>
            </Link>{" "}
            <StatusBadge status={run?.status ?? "starting"} />
            {run?.error && (
              <span className="bad">
                {" "}
                {run.error}: {run.cause}
              </span>
            )}
          </p>
          {run && (
            <div className="row wrap">
              {Object.entries(run.nodes).map(([nid, n]) => (
                <span key={nid} className="chip" data-testid={`run-node-${nid}`}>
                  {nid} <StatusBadge status={n.status} />
                  {n.error !== null && n.error !== undefined && <small className="bad">{describe(n.error)}</small>}
                </span>
              ))}
            </div>
          )}
        </div>
      )}
    </section>
  );
}
