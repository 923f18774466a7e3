import { useMemo, useState, type FormEvent } from "react";
import { ApiError, downloadAuthorized, enc, get, patch } from "../../api/client";
import type { Blame, Config, History } from "../../api/types";
import { Page } from "../../components/Page";
import { Async, Empty, ErrorBox } from "../../components/status";
import { useI18n } from "../../i18n";
import { Link } from "../../lib/router";
import { useAsync } from "../../lib/useAsync";
import { HistoryTable } from "../library/HistoryTable";
import { leaves, parseLeaf, show, type Leaf } from "./leaves";

type Tab = "edit" | "diff" | "blame" | "history";

export function ConfigDetail({ params }: { params: Record<string, string> }) {
  const { t } = useI18n();
  const id = params.configId;
  const config = useAsync((s) => get<Config>(`/configs/${enc(id)}`, undefined, s), [id]);
  const [tab, setTab] = useState<Tab>("edit");
  const tabs: Tab[] = ["edit", "diff", "blame", "history"];
  const [error, setError] = useState<unknown>(null);
  const exportAs = (c: Config, fmt: "json" | "yaml") =>
    downloadAuthorized(`/configs/${enc(c.config_id)}/export?format=${fmt}`, `${c.name}.tlm.config.${fmt}`).catch(setError);
  return (
    <Async state={config}>
      {(c) => (
        <Page
          title={c.name}
          actions={
            <>
              <Link to={`/configs/${enc(c.config_id)}/arch`} data-testid="open-arch">
                {t("arch.open")}
              </Link>
              <button type="button" onClick={() => void exportAs(c, "json")}>
                {t("configs.export")} JSON
              </button>
              <button type="button" onClick={() => void exportAs(c, "yaml")}>
                {t("configs.export")} YAML
              </button>
            </>
          }
        >
          {error !== null && <ErrorBox error={error} />}
          <p className="muted">
            {c.family} · {t("common.version")} {c.version} {c.description && `· ${c.description}`}
          </p>
          <div role="tablist" className="tabs" aria-label={t("configs.views")}>
            {tabs.map((x) => (
              <button key={x} role="tab" type="button" id={`tab-${x}`} aria-selected={tab === x} aria-controls={`panel-${x}`} onClick={() => setTab(x)}>
                {t(`configs.tab.${x}`)}
              </button>
            ))}
          </div>
          <div role="tabpanel" id={`panel-${tab}`} aria-labelledby={`tab-${tab}`}>
            {tab === "edit" && <EditForm key={c.version} config={c} onSaved={config.reload} />}
            {tab === "diff" && <Diff config={c} />}
            {tab === "blame" && <BlameView configId={c.config_id} version={c.version} />}
            {tab === "history" && <HistoryView configId={c.config_id} version={c.version} />}
          </div>
        </Page>
      )}
    </Async>
  );
}

/** One input per leaf, typed by the leaf's current value; the server validates the whole config
 * (families' rules: hidden size divisible by heads, ranges...) and names the field it refuses. */
function EditForm({ config, onSaved }: { config: Config; onSaved: () => void }) {
  const { t } = useI18n();
  const fields = useMemo(() => leaves(config.values), [config.values]);
  const [texts, setTexts] = useState<Record<string, string>>(() => Object.fromEntries(fields.map((f) => [f.path, show(f.value)])));
  const [fieldErrors, setFieldErrors] = useState<Record<string, string>>({});
  const [error, setError] = useState<unknown>(null);
  const [saved, setSaved] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setSaved(false);
    setError(null);
    const errors: Record<string, string> = {};
    const set: Record<string, unknown> = {};
    for (const f of fields) {
      try {
        const v = parseLeaf(f, texts[f.path]);
        if (JSON.stringify(v) !== JSON.stringify(f.value)) set[f.path] = v;
      } catch (err) {
        errors[f.path] = t(`configs.invalid.${(err as Error).message}` as "configs.invalid.number");
      }
    }
    setFieldErrors(errors);
    if (Object.keys(errors).length) return;
    if (!Object.keys(set).length) {
      setError(new Error(t("configs.noChange")));
      return;
    }
    try {
      await patch(`/configs/${enc(config.config_id)}`, { set, expected_version: config.version });
      setSaved(true);
      onSaved();
    } catch (err) {
      if (err instanceof ApiError && err.field) {
        const path = err.field.replace(/^(values|set)\./, "");
        if (fields.some((f) => f.path === path)) setFieldErrors({ [path]: err.message });
      }
      setError(err);
    }
  };
  const input = (f: Leaf) => {
    const id = `leaf-${f.path}`;
    const invalid = fieldErrors[f.path];
    const common = {
      id,
      "aria-invalid": invalid ? true : undefined,
      "aria-describedby": invalid ? `${id}-error` : undefined,
    } as const;
    if (f.kind === "boolean")
      return (
        <select {...common} value={texts[f.path]} onChange={(e) => setTexts({ ...texts, [f.path]: e.target.value })}>
          <option value="true">true</option>
          <option value="false">false</option>
        </select>
      );
    return (
      <input
        {...common}
        inputMode={f.kind === "integer" ? "numeric" : f.kind === "number" ? "decimal" : undefined}
        value={texts[f.path]}
        onChange={(e) => setTexts({ ...texts, [f.path]: e.target.value })}
      />
    );
  };
  return (
    <form onSubmit={submit} className="config-form" aria-label={t("configs.tab.edit")}>
      <div className="leaf-grid">
        {fields.map((f) => (
          <div key={f.path} className={`field${fieldErrors[f.path] ? " has-error" : ""}`}>
            <label htmlFor={`leaf-${f.path}`}>
              <code>{f.path}</code> <small className="muted">{f.kind}</small>
            </label>
            {input(f)}
            {fieldErrors[f.path] && (
              <small id={`leaf-${f.path}-error`} className="bad" role="alert">
                {fieldErrors[f.path]}
              </small>
            )}
          </div>
        ))}
      </div>
      <div className="row">
        <button type="submit" className="primary">
          {t("configs.save")}
        </button>
        {saved && (
          <span role="status" className="ok">
            {t("configs.saved")}
          </span>
        )}
      </div>
      {error !== null && <ErrorBox error={error} />}
    </form>
  );
}

interface DiffAnswer {
  changes: { path: string; kind: string; old?: unknown; new?: unknown }[];
}

function Diff({ config }: { config: Config }) {
  const { t } = useI18n();
  const [from, setFrom] = useState(Math.max(1, config.version - 1));
  const [to, setTo] = useState(config.version);
  const diff = useAsync((s) => get<DiffAnswer>(`/configs/${enc(config.config_id)}/diff`, { from, to }, s), [config.config_id, from, to]);
  const versions = Array.from({ length: config.version }, (_, i) => i + 1);
  return (
    <section>
      <div className="filters">
        <label>
          {t("configs.from")}{" "}
          <select value={from} onChange={(e) => setFrom(Number(e.target.value))}>
            {versions.map((v) => (
              <option key={v}>{v}</option>
            ))}
          </select>
        </label>
        <label>
          {t("configs.to")}{" "}
          <select value={to} onChange={(e) => setTo(Number(e.target.value))}>
            {versions.map((v) => (
              <option key={v}>{v}</option>
            ))}
          </select>
        </label>
      </div>
      <Async state={diff}>
        {(d) =>
          d.changes.length === 0 ? (
            <Empty>{t("configs.same")}</Empty>
          ) : (
            <table className="diff">
              <thead>
                <tr>
                  <th scope="col">{t("configs.path")}</th>
                  <th scope="col">{t("configs.change")}</th>
                  <th scope="col">{t("configs.old")}</th>
                  <th scope="col">{t("configs.new")}</th>
                </tr>
              </thead>
              <tbody>
                {d.changes.map((c) => (
                  <tr key={c.path} className={`diff-${c.kind}`}>
                    <td>
                      <code>{c.path}</code>
                    </td>
                    <td>{c.kind}</td>
                    <td>{c.old === undefined ? "" : <del>{show(c.old)}</del>}</td>
                    <td>{c.new === undefined ? "" : <ins>{show(c.new)}</ins>}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )
        }
      </Async>
    </section>
  );
}

function BlameView({ configId, version }: { configId: string; version: number }) {
  const { t } = useI18n();
  const blame = useAsync((s) => get<Blame>(`/configs/${enc(configId)}/blame`, undefined, s), [configId, version]);
  return (
    <Async state={blame}>
      {(b) => (
        <table data-testid="blame">
          <thead>
            <tr>
              <th scope="col">{t("configs.path")}</th>
              <th scope="col">{t("configs.value")}</th>
              <th scope="col">{t("common.version")}</th>
              <th scope="col">{t("history.event")}</th>
              <th scope="col">{t("history.actor")}</th>
            </tr>
          </thead>
          <tbody>
            {b.items.map((e) => (
              <tr key={e.path}>
                <td>
                  <code>{e.path}</code>
                </td>
                <td>{show(e.value)}</td>
                <td>{e.version}</td>
                <td>
                  <code>{e.event_type}</code>
                </td>
                <td>{e.actor ?? "–"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Async>
  );
}

function HistoryView({ configId, version }: { configId: string; version: number }) {
  const history = useAsync((s) => get<History>(`/configs/${enc(configId)}/history`, undefined, s), [configId, version]);
  return <Async state={history}>{(h) => <HistoryTable items={h.items} />}</Async>;
}
