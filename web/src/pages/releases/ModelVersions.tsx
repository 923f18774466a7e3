// A model's versions in the release center: the list, one version's detail (files, metrics,
// params, lineage), a diff against another, its approvals (request / approve / reject), the
// model's stage aliases, and a deployment started from a version.
import { useState } from "react";
import { enc, get, patch, post, put } from "../../api/client";
import { Page } from "../../components/Page";
import { Async, Empty, ErrorBox, StatusBadge } from "../../components/status";
import { useI18n } from "../../i18n";
import { when } from "../../lib/format";
import { Link, navigate } from "../../lib/router";
import { useAsync } from "../../lib/useAsync";
import "./releases.css";
import type { Aliases, Deployment, Version, VersionDiff } from "./types";

const json = (v: unknown) => JSON.stringify(v, null, 2);

export function ModelVersions({ params }: { params: Record<string, string> }) {
  const { t } = useI18n();
  const modelId = params.modelId;
  const versions = useAsync((s) => get<{ items: Version[] }>(`/models/${enc(modelId)}/versions`, undefined, s), [modelId]);
  const aliases = useAsync((s) => get<Aliases>(`/models/${enc(modelId)}/aliases`, undefined, s), [modelId]);
  const [selected, setSelected] = useState<string | null>(null);
  const reload = () => {
    versions.reload();
    aliases.reload();
  };
  return (
    <Page title={<>{t("releases.versionsOf")} <code>{modelId}</code></>} actions={<Link to="/releases">{t("releases.title")}</Link>}>
      <Async state={versions}>
        {(v) => {
          if (v.items.length === 0) return <Empty>{t("releases.noVersions")}</Empty>;
          const current = v.items.find((x) => x.version_id === selected) ?? v.items[0];
          return (
            <>
              <table data-testid="versions">
                <thead>
                  <tr>
                    <th scope="col">{t("releases.number")}</th>
                    <th scope="col">{t("releases.version")}</th>
                    <th scope="col">{t("releases.source")}</th>
                    <th scope="col">{t("releases.aliases")}</th>
                    <th scope="col">{t("releases.approvals")}</th>
                    <th scope="col">{t("common.actions")}</th>
                  </tr>
                </thead>
                <tbody>
                  {v.items.map((x) => (
                    <tr key={x.version_id} aria-selected={x.version_id === current.version_id}>
                      <td>{x.number}</td>
                      <td>
                        <code>{x.version_id}</code>
                      </td>
                      <td>{x.source}</td>
                      <td>{(x.aliases ?? []).join(", ") || "–"}</td>
                      <td>
                        {Object.entries(x.approvals).map(([stage, a]) => (
                          <span key={stage} className="chip">
                            {stage} <StatusBadge status={String((a as { status?: string }).status ?? "")} />
                          </span>
                        ))}
                      </td>
                      <td>
                        <button type="button" onClick={() => setSelected(x.version_id)}>
                          {t("releases.show")}
                        </button>
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
              <VersionDetail key={current.version_id} version={current} all={v.items} onChange={reload} />
            </>
          );
        }}
      </Async>
      <Async state={aliases}>{(a) => <AliasTable aliases={a} />}</Async>
    </Page>
  );
}

function VersionDetail({ version: v, all, onChange }: { version: Version; all: Version[]; onChange: () => void }) {
  const { t } = useI18n();
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [stage, setStage] = useState("production");
  const [alias, setAlias] = useState("staging");
  const [params, setParams] = useState(json(v.params));
  const [other, setOther] = useState(all.find((x) => x.version_id !== v.version_id)?.version_id ?? "");
  const [diff, setDiff] = useState<VersionDiff | null>(null);
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
  const base = `/versions/${enc(v.version_id)}`;
  return (
    <section className="card" aria-labelledby="version-title" data-testid="version-detail">
      <h2 id="version-title">
        {t("releases.version")} {v.number} <code>{v.version_id}</code>
      </h2>
      {error !== null && <ErrorBox error={error} />}
      <dl className="facts">
        <dt>{t("releases.source")}</dt>
        <dd>{v.source}</dd>
        <dt>{t("releases.deployable")}</dt>
        <dd>{v.deployable ? t("releases.yes") : t("releases.no")}</dd>
        <dt>{t("releases.metrics")}</dt>
        <dd>{Object.entries(v.metrics).map(([k, x]) => `${k}=${x}`).join(", ") || "–"}</dd>
        <dt>{t("releases.files")}</dt>
        <dd>{Object.keys(v.files).join(", ") || "–"}</dd>
        <dt>{t("releases.lineage")}</dt>
        <dd>
          <code>{JSON.stringify(v.lineage)}</code>
        </dd>
      </dl>
      <div className="row wrap">
        <button type="button" className="primary" disabled={busy || !v.deployable} onClick={() => void act(async () => {
          const d = await post<Deployment>("/deployments", { version_id: v.version_id, name: v.model_id });
          navigate(`/deployments/${enc(d.deployment_id)}`);
        })}>
          {t("releases.deploy")}
        </button>
      </div>
      <h3>{t("releases.approvals")}</h3>
      <table>
        <tbody>
          {Object.entries(v.approvals).map(([s, a]) => {
            const ap = a as { status: string; requested_by: string; decided_by?: string | null; comment?: string };
            return (
              <tr key={s}>
                <td>{s}</td>
                <td>
                  <StatusBadge status={ap.status} />
                </td>
                <td>
                  {ap.requested_by}
                  {ap.decided_by ? ` → ${ap.decided_by}` : ""}
                </td>
                <td>
                  {ap.status === "requested" && (
                    <>
                      <button type="button" disabled={busy} onClick={() => void act(() => post(`${base}/approvals/${enc(s)}/approve`, {}))}>
                        {t("releases.approve")}
                      </button>{" "}
                      <button type="button" className="danger" disabled={busy} onClick={() => void act(() => post(`${base}/approvals/${enc(s)}/reject`, {}))}>
                        {t("releases.reject")}
                      </button>
                    </>
                  )}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
      <div className="row wrap">
        <label htmlFor="approval-stage">{t("releases.stage")}</label>
        <input id="approval-stage" value={stage} onChange={(e) => setStage(e.target.value)} />
        <button type="button" disabled={busy || !stage.trim()} onClick={() => void act(() => post(`${base}/approvals`, { stage: stage.trim() }))}>
          {t("releases.requestApproval")}
        </button>
        <label htmlFor="alias-name">{t("releases.alias")}</label>
        <input id="alias-name" value={alias} onChange={(e) => setAlias(e.target.value)} />
        <button type="button" disabled={busy || !alias.trim()} onClick={() => void act(() => put(`/models/${enc(v.model_id)}/aliases/${enc(alias.trim())}`, { version_id: v.version_id }))}>
          {t("releases.moveAlias")}
        </button>
      </div>
      <h3>
        <label htmlFor="version-params">{t("releases.params")}</label> <small className="muted">r{v.params_revision}</small>
      </h3>
      <textarea id="version-params" rows={6} value={params} onChange={(e) => setParams(e.target.value)} className="code" />
      <div className="row wrap">
        <button type="button" disabled={busy} onClick={() => void act(async () => {
          let body: unknown;
          try {
            body = JSON.parse(params);
          } catch {
            throw new Error(t("pipelines.badJson"));
          }
          await patch(`${base}/params`, { params: body });
        })}>
          {t("releases.saveParams")}
        </button>
      </div>
      {all.length > 1 && (
        <>
          <h3>{t("releases.diff")}</h3>
          <div className="row wrap">
            <label htmlFor="diff-other">{t("releases.against")}</label>
            <select id="diff-other" value={other} onChange={(e) => setOther(e.target.value)}>
              {all.filter((x) => x.version_id !== v.version_id).map((x) => (
                <option key={x.version_id} value={x.version_id}>
                  {x.number} · {x.version_id}
                </option>
              ))}
            </select>
            <button type="button" onClick={() => void get<VersionDiff>(`${base}/diff`, { other }).then(setDiff, setError)}>
              {t("pipelines.diff")}
            </button>
          </div>
          {diff && (diff.changes.length === 0 ? <p className="muted">{t("pipelines.noChanges")}</p> : (
            <table data-testid="version-diff">
              <tbody>
                {diff.changes.map((c, i) => (
                  <tr key={i}>
                    <td><code>{String(c.path ?? "")}</code></td>
                    <td>{String(c.kind ?? "")}</td>
                    <td>{JSON.stringify(c.old)}</td>
                    <td>{JSON.stringify(c.new)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          ))}
        </>
      )}
    </section>
  );
}

function AliasTable({ aliases }: { aliases: Aliases }) {
  const { t, lang } = useI18n();
  return (
    <section className="card" aria-labelledby="aliases-title">
      <h2 id="aliases-title">{t("releases.aliases")}</h2>
      {Object.keys(aliases.aliases).length === 0 ? (
        <p className="muted">{t("releases.noAliases")}</p>
      ) : (
        <dl className="facts" data-testid="aliases">
          {Object.entries(aliases.aliases).map(([a, v]) => (
            <div className="fact" key={a}>
              <dt>{a}</dt>
              <dd>
                <code>{v}</code>
              </dd>
            </div>
          ))}
        </dl>
      )}
      {aliases.history.length > 0 && (
        <ul className="muted">
          {aliases.history.slice(-10).reverse().map((h, i) => (
            <li key={i}>
              {when(String(h.at ?? h.occurred_at ?? ""), lang)} · {String(h.by ?? h.actor ?? "")} · {String(h.alias ?? "")} → {String(h.version_id ?? "–")}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
