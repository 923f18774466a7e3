// One architecture test job (GET /jobs/{name}, polled until it ends; its log alongside) and, once
// it completed, its report side by side: parent | child | child ÷ parent, the structural diff,
// and which weights were carried into the child (jobs/arch_test.py).
import { enc, get, post } from "../../api/client";
import type { LogPage } from "../../api/types";
import { LogView } from "../../components/LogView";
import { Async, ErrorBox, StatusBadge } from "../../components/status";
import { useI18n, type Key } from "../../i18n";
import { useAsync, useInterval } from "../../lib/useAsync";
import { useState } from "react";

const ENDED = ["Completed", "Failed", "Stopped"];

interface Measured {
  params: number;
  non_embedding_params: number;
  param_bytes: number;
  flops_per_token: number;
  activation_bytes: number;
  peak_rss_delta_bytes: number;
  latency_ms: { median: number; min: number; repeats: number };
  smoke: { loss: number; grad_norm: number; finite: boolean; step_ms: number };
}
type Tensor = { name: string; shape: number[]; from?: string; parent_shape?: number[] };
interface Report {
  family: string;
  settings: Record<string, number>;
  structural_diff: Record<string, { old: unknown; new: unknown }>;
  parent: Measured;
  child: Measured;
  child_vs_parent: Record<string, number>;
  carried: { count: number; carried_params: number; new: Tensor[]; dropped: Tensor[]; shape_mismatch: Tensor[]; verified: { name: string; equal: boolean } | null };
}
interface Job {
  job_name: string;
  state: string;
  failure_reason: string | null;
  queue_position: number | null;
  report: Record<string, unknown> | null;
}

export function ArchTestPanel({ jobName }: { jobName: string }) {
  const { t } = useI18n();
  const job = useAsync((s) => get<Job>(`/jobs/${enc(jobName)}`, undefined, s), [jobName]);
  const running = job.data !== undefined && !ENDED.includes(job.data.state);
  useInterval(job.reload, 1500, running);
  const [error, setError] = useState<unknown>(null);
  const cancel = () => post(`/jobs/${enc(jobName)}/cancel`).then(job.reload, setError);
  return (
    <div className="arch-test" data-testid="arch-test" data-state={job.data?.state ?? ""}>
      <Async state={job}>
        {(j) => (
          <>
            <p>
              {t("arch.job")} <code>{j.job_name}</code> <StatusBadge status={j.state} />
              {j.queue_position !== null && j.queue_position !== undefined && <span className="muted"> · {t("arch.queued", { n: j.queue_position })}</span>}
              {running && (
                <button type="button" className="link" onClick={() => void cancel()}>
                  {t("common.cancel")}
                </button>
              )}
            </p>
            {j.failure_reason && <p className="bad">{j.failure_reason}</p>}
            {error !== null && <ErrorBox error={error} />}
            {j.report ? <ReportView report={j.report as unknown as Report} /> : null}
          </>
        )}
      </Async>
      <LogView title={t("arch.log")} live={running} fetchPage={(start) => get<LogPage>(`/jobs/${enc(jobName)}/logs`, { start })} />
    </div>
  );
}

const bytes = (b: number) => (b >= 1 << 20 ? `${(b / (1 << 20)).toFixed(2)} MiB` : `${(b / 1024).toFixed(1)} KiB`);
const count = (x: number) => x.toLocaleString();
const ms = (x: number) => `${x.toFixed(2)} ms`;

type Row = { key: Key; get: (m: Measured) => number | boolean; show: (v: number) => string; ratio?: string };
const ROWS: Row[] = [
  { key: "arch.r.params", get: (m) => m.params, show: count, ratio: "params" },
  { key: "arch.r.nonEmbedding", get: (m) => m.non_embedding_params, show: count },
  { key: "arch.r.paramBytes", get: (m) => m.param_bytes, show: bytes, ratio: "param_bytes" },
  { key: "arch.r.flops", get: (m) => m.flops_per_token, show: count, ratio: "flops_per_token" },
  { key: "arch.r.activations", get: (m) => m.activation_bytes, show: bytes },
  { key: "arch.r.rss", get: (m) => m.peak_rss_delta_bytes, show: bytes },
  { key: "arch.r.latency", get: (m) => m.latency_ms.median, show: ms, ratio: "latency" },
  { key: "arch.r.latencyMin", get: (m) => m.latency_ms.min, show: ms },
  { key: "arch.r.loss", get: (m) => m.smoke.loss, show: (v) => v.toFixed(4) },
  { key: "arch.r.gradNorm", get: (m) => m.smoke.grad_norm, show: (v) => v.toFixed(4) },
  { key: "arch.r.stepMs", get: (m) => m.smoke.step_ms, show: ms },
];

function ReportView({ report: r }: { report: Report }) {
  const { t } = useI18n();
  const diff = Object.entries(r.structural_diff ?? {});
  return (
    <div className="arch-report" data-testid="arch-report">
      <table className="side-by-side" data-testid="side-by-side">
        <caption>{t("arch.sideBySide")}</caption>
        <thead>
          <tr>
            <th scope="col">{t("arch.measure")}</th>
            <th scope="col" className="num">
              {t("arch.parent")}
            </th>
            <th scope="col" className="num">
              {t("arch.child")}
            </th>
            <th scope="col" className="num">
              {t("arch.ratio")}
            </th>
          </tr>
        </thead>
        <tbody>
          {ROWS.map((row) => {
            const p = row.get(r.parent) as number, c = row.get(r.child) as number;
            const ratio = row.ratio ? r.child_vs_parent[row.ratio] : undefined;
            return (
              <tr key={row.key}>
                <th scope="row">{t(row.key)}</th>
                <td className="num">{row.show(p)}</td>
                <td className="num">{row.show(c)}</td>
                <td className={`num ${ratio === undefined ? "" : ratio > 1 ? "ratio-up" : ratio < 1 ? "ratio-down" : ""}`}>{ratio === undefined ? "" : `×${ratio}`}</td>
              </tr>
            );
          })}
          <tr>
            <th scope="row">{t("arch.r.finite")}</th>
            <td className="num">{r.parent.smoke.finite ? "✓" : "✗"}</td>
            <td className="num">{r.child.smoke.finite ? "✓" : "✗"}</td>
            <td />
          </tr>
        </tbody>
      </table>
      <p className="muted">
        {t("arch.settings")}: {Object.entries(r.settings ?? {}).map(([k, v]) => `${k}=${v}`).join(", ")}
      </p>
      {diff.length > 0 && (
        <table data-testid="structural-diff">
          <caption>{t("arch.structural")}</caption>
          <thead>
            <tr>
              <th scope="col">{t("arch.field")}</th>
              <th scope="col">{t("arch.parent")}</th>
              <th scope="col">{t("arch.child")}</th>
            </tr>
          </thead>
          <tbody>
            {diff.map(([k, d]) => (
              <tr key={k}>
                <th scope="row">{k}</th>
                <td>{String(d.old)}</td>
                <td>{String(d.new)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <div className="weights" data-testid="weights">
        <h3>{t("arch.weights")}</h3>
        <p>
          {t("arch.carried", { count: r.carried.count, params: count(r.carried.carried_params) })}
          {r.carried.verified && (
            <span className={r.carried.verified.equal ? "ok" : "bad"}> · {r.carried.verified.equal ? t("arch.verified") : t("arch.notVerified")}</span>
          )}
        </p>
        {(["new", "dropped", "shape_mismatch"] as const).map((k) =>
          r.carried[k].length ? (
            <details key={k}>
              <summary>
                {t(`arch.tensors.${k}`)} ({r.carried[k].length})
              </summary>
              <ul>
                {r.carried[k].map((x) => (
                  <li key={x.name}>
                    <code>{x.name}</code> [{x.shape.join("×")}]{x.parent_shape ? ` ← [${x.parent_shape.join("×")}]` : ""}
                  </li>
                ))}
              </ul>
            </details>
          ) : null,
        )}
      </div>
    </div>
  );
}
