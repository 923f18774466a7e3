// One deployment: status, the traffic split, a canary update and a rollback, metrics over time
// (invocations, errors, p50/p95/p99 per slot and version) and a prediction box.
import { useMemo, useState } from "react";
import { enc, get, post } from "../../api/client";
import { Chart, type Series } from "../../components/Chart";
import { Page } from "../../components/Page";
import { Async, ErrorBox, StatusBadge } from "../../components/status";
import { useI18n } from "../../i18n";
import { Link } from "../../lib/router";
import { useAsync, useInterval } from "../../lib/useAsync";
import "./releases.css";
import { TrafficBar } from "./TrafficBar";
import type { Deployment, MetricSeries, Metrics, Predictions, Version } from "./types";

const MOVING = ["deploying", "updating"];

export function DeploymentDetail({ params }: { params: Record<string, string> }) {
  const { t } = useI18n();
  const id = params.deploymentId;
  const dep = useAsync((s) => get<Deployment>(`/deployments/${enc(id)}`, undefined, s), [id]);
  useInterval(dep.reload, 2000, dep.data !== undefined && MOVING.includes(dep.data.status));
  return (
    <Async state={dep}>
      {(d) => (
        <Page
          title={
            <>
              {d.name || d.deployment_id} <StatusBadge status={d.status} />
            </>
          }
          actions={<Link to={`/releases/models/${enc(d.model_id)}`}>{t("releases.versionsOf")} {d.model_id}</Link>}
        >
          <dl className="facts">
            <dt>{t("common.id")}</dt>
            <dd>
              <code>{d.deployment_id}</code>
            </dd>
            <dt>{t("releases.primaryVersion")}</dt>
            <dd>
              {d.primary ?? "–"} · <code>{d.primary_version ?? "–"}</code>
            </dd>
            <dt>{t("releases.traffic")}</dt>
            <dd>
              <TrafficBar deployment={d} />
            </dd>
            {d.update && (
              <>
                <dt>{t("releases.update")}</dt>
                <dd>
                  <code>{JSON.stringify(d.update)}</code>
                </dd>
              </>
            )}
          </dl>
          <Controls deployment={d} onChange={dep.reload} />
          <PredictBox deploymentId={d.deployment_id} disabled={d.status === "stopped"} />
          <MetricsCharts deploymentId={d.deployment_id} />
          <section className="card" aria-labelledby="dep-history">
            <h2 id="dep-history">{t("common.history")}</h2>
            <ul>
              {d.history.slice(-15).reverse().map((h, i) => (
                <li key={i}>
                  <code>{String(h.type ?? h.event ?? "")}</code> {String(h.at ?? h.occurred_at ?? "")} {String(h.by ?? h.actor ?? "")}{" "}
                  {h.version_id ? <code>{String(h.version_id)}</code> : null} {h.reason ? String(h.reason) : ""}
                </li>
              ))}
            </ul>
          </section>
        </Page>
      )}
    </Async>
  );
}

function Controls({ deployment: d, onChange }: { deployment: Deployment; onChange: () => void }) {
  const { t } = useI18n();
  const versions = useAsync((s) => get<{ items: Version[] }>(`/models/${enc(d.model_id)}/versions`, undefined, s), [d.model_id]);
  const [version, setVersion] = useState("");
  const [percent, setPercent] = useState(10);
  const [bake, setBake] = useState(60);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const act = async (fn: () => Promise<unknown>) => {
    setError(null);
    setBusy(true);
    try {
      await fn();
      onChange();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  const candidates = (versions.data?.items ?? []).filter((v) => v.deployable);
  const chosen = version || candidates.find((v) => v.version_id !== d.primary_version)?.version_id || "";
  return (
    <section className="card" aria-labelledby="canary-title">
      <h2 id="canary-title">{t("releases.canary")}</h2>
      {error !== null && <ErrorBox error={error} />}
      <div className="row wrap">
        <label htmlFor="canary-version">{t("releases.version")}</label>
        <select id="canary-version" value={chosen} onChange={(e) => setVersion(e.target.value)}>
          {candidates.map((v) => (
            <option key={v.version_id} value={v.version_id}>
              {v.number} · {v.version_id}
            </option>
          ))}
        </select>
        <label htmlFor="canary-percent">{t("releases.percent")}</label>
        <input id="canary-percent" type="number" min={1} max={99} value={percent} onChange={(e) => setPercent(Number(e.target.value))} />
        <label htmlFor="canary-bake">{t("releases.bake")}</label>
        <input id="canary-bake" type="number" min={0} value={bake} onChange={(e) => setBake(Number(e.target.value))} />
        <button
          type="button"
          className="primary"
          disabled={busy || !chosen || d.status === "stopped"}
          onClick={() =>
            void act(() => post(`/deployments/${enc(d.deployment_id)}/update`, { version_id: chosen, strategy: { kind: "canary", percent, bake_s: bake } }))
          }
        >
          {t("releases.startCanary")}
        </button>
        <button type="button" className="danger" disabled={busy || d.status === "stopped"} onClick={() => void act(() => post(`/deployments/${enc(d.deployment_id)}/rollback`, { reason: "rolled back in the UI" }))}>
          {t("releases.rollback")}
        </button>
      </div>
    </section>
  );
}

function PredictBox({ deploymentId, disabled }: { deploymentId: string; disabled: boolean }) {
  const { t } = useI18n();
  const [text, setText] = useState("");
  const [out, setOut] = useState<{ texts: string[]; answer: Predictions } | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const texts = text.split("\n").map((s) => s.trim()).filter(Boolean);
  const predict = async () => {
    setError(null);
    setBusy(true);
    try {
      setOut({ texts, answer: await post<Predictions>(`/deployments/${enc(deploymentId)}/predict`, { texts }) });
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <section className="card" aria-labelledby="predict-title">
      <h2 id="predict-title">
        <label htmlFor="predict-texts">{t("releases.predict")}</label>
      </h2>
      <textarea id="predict-texts" rows={3} value={text} placeholder={t("releases.predictHint")} onChange={(e) => setText(e.target.value)} />
      <div className="row wrap">
        <button type="button" className="primary" disabled={busy || disabled || texts.length === 0} onClick={() => void predict()}>
          {busy ? t("common.working") : t("releases.predictButton")}
        </button>
      </div>
      {error !== null && <ErrorBox error={error} />}
      {out && (
        <table className="predictions" data-testid="predictions">
          <caption className="muted">
            {out.answer.slot} · <code>{out.answer.version_id}</code>
          </caption>
          <thead>
            <tr>
              <th scope="col">{t("releases.text")}</th>
              <th scope="col">{t("releases.label")}</th>
              <th scope="col">{t("releases.score")}</th>
            </tr>
          </thead>
          <tbody>
            {out.answer.predictions.map((p, i) => (
              <tr key={i}>
                <td>{out.texts[i]}</td>
                <td>{p.label}</td>
                <td>{p.score.toFixed(3)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

const seconds = (at: string | number) => (typeof at === "number" ? at : Date.parse(at) / 1000);

function MetricsCharts({ deploymentId }: { deploymentId: string }) {
  const { t } = useI18n();
  const [tick, setTick] = useState(0);
  const m = useAsync((s) => get<Metrics>(`/deployments/${enc(deploymentId)}/metrics`, tick > 0 ? { sample: true } : undefined, s), [deploymentId, tick]);
  return (
    <section className="card" aria-labelledby="metrics-title">
      <div className="row between">
        <h2 id="metrics-title">{t("releases.metricsTitle")}</h2>
        <button type="button" onClick={() => setTick((n) => n + 1)}>
          {t("releases.sample")}
        </button>
      </div>
      <Async state={m}>{(data) => <MetricsBody series={data.series as unknown as MetricSeries[]} />}</Async>
    </section>
  );
}

function MetricsBody({ series }: { series: MetricSeries[] }) {
  const { t } = useI18n();
  const charts = useMemo(() => {
    const t0 = Math.min(...series.flatMap((s) => s.points.map((p) => seconds(p.at))));
    const x = (s: MetricSeries) => s.points.map((p) => Math.round(seconds(p.at) - t0));
    const name = (s: MetricSeries) => `${s.slot} ${s.version_id.slice(-8)}`;
    const counts: Series[] = series.flatMap((s) => [
      { name: `${name(s)} ${t("releases.invocations")}`, x: x(s), y: s.points.map((p) => p.invocations) },
      { name: `${name(s)} ${t("releases.errors")}`, x: x(s), y: s.points.map((p) => p.errors) },
    ]);
    const latency: Series[] = series.flatMap((s) =>
      (["p50_ms", "p95_ms", "p99_ms"] as const).map((k) => ({ name: `${name(s)} ${k.slice(0, 3)}`, x: x(s), y: s.points.map((p) => p[k] ?? NaN) })),
    );
    return { counts, latency };
  }, [series, t]);
  if (series.length === 0 || series.every((s) => s.points.length === 0)) return <p className="muted">{t("releases.noMetrics")}</p>;
  return (
    <div className="charts">
      <Chart series={charts.counts} title={t("releases.invocationsChart")} xTitle={t("releases.seconds")} />
      <Chart series={charts.latency} title={t("releases.latencyChart")} xTitle={t("releases.seconds")} yTitle="ms" />
    </div>
  );
}
