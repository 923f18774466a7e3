// The architecture editor of one config: its layers, hidden size, heads, FFN size, activation and
// dropouts edited with the schema's rules checked as you type, a per-layer view of the child the
// edit would make (which parent layer each starts from), then a child config made by
// POST /configs/{id}/derive and its architecture test (POST /configs/{child}/arch-test, a job
// request) read side by side with the parent. A derived config shows its lineage and its tests.
import { useMemo, useState } from "react";
import { ApiError, enc, get, post } from "../../api/client";
import type { Config } from "../../api/types";
import { Page } from "../../components/Page";
import { Async, ErrorBox } from "../../components/status";
import { useI18n, type Key } from "../../i18n";
import { Link, navigate, useLocation } from "../../lib/router";
import { useAsync } from "../../lib/useAsync";
import "./arch.css";
import { ACTIVATIONS, editOf, FIELDS, problems, readArch, type Generic, type Values } from "./archFields";
import { ArchTestPanel } from "./ArchTestPanel";
import { LayerTable } from "./LayerTable";

type Lineage = { config_id: string; version: number; edit: Record<string, unknown>; layer_map: Record<string, number | null> };
type ConfigDoc = Config & { derived_from?: Lineage | null };

export function ArchEditor({ params }: { params: Record<string, string> }) {
  const id = params.configId;
  const config = useAsync((s) => get<ConfigDoc>(`/configs/${enc(id)}`, undefined, s), [id]);
  const { t } = useI18n();
  return (
    <Async state={config}>
      {(c) => (
        <Page title={`${t("arch.title")} · ${c.name}`} actions={<Link to={`/configs/${enc(c.config_id)}`}>{t("arch.backToConfig")}</Link>}>
          <p className="muted">
            {c.family} · {t("common.version")} {c.version}
          </p>
          {c.derived_from && <Derived config={c} lineage={c.derived_from} />}
          <Editor key={`${c.config_id}@${c.version}`} config={c} />
        </Page>
      )}
    </Async>
  );
}

const LABELS: Record<Generic, Key> = {
  num_layers: "arch.num_layers",
  hidden_size: "arch.hidden_size",
  num_heads: "arch.num_heads",
  intermediate_size: "arch.intermediate_size",
  activation: "arch.activation",
  hidden_dropout: "arch.hidden_dropout",
  attention_dropout: "arch.attention_dropout",
  embedding_size: "arch.embedding_size",
  num_hidden_groups: "arch.num_hidden_groups",
  inner_group_num: "arch.inner_group_num",
};

function Editor({ config: c }: { config: ConfigDoc }) {
  const { t } = useI18n();
  const arch = (c.values.architecture ?? {}) as Record<string, unknown>;
  const parent = useMemo(() => readArch(c.family, arch), [c.family, arch]);
  const parentLayers = Number(parent.num_layers) || 0;
  const [v, setV] = useState<Values>(parent);
  const [kept, setKept] = useState<boolean[]>(() => Array.from({ length: parentLayers }, () => true));
  const [name, setName] = useState(`${c.name}-child`);
  const [serverField, setServerField] = useState<{ field: string; message: string } | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const albert = c.family === "albert";
  const keepList = kept.every(Boolean) ? null : kept.flatMap((k, i) => (k ? [i] : []));
  const found = problems(c.family, v, keepList ? keepList.length : null);
  const edit = editOf(parent, v, keepList);
  const changed = Object.keys(edit).length > 0;
  const fieldError = (g: Generic) => {
    const p = found.find((x) => x.field === g);
    if (p) return t(`arch.problem.${p.key}` as Key, p.vars);
    if (serverField && (serverField.field === `edit.${g}` || serverField.field === `architecture.${FIELDS[c.family]?.[g]}`)) return serverField.message;
    return null;
  };
  const setKeep = (i: number, on: boolean) => {
    const next = kept.map((k, j) => (j === i ? on : k));
    if (!next.some(Boolean)) return; // at least one layer stays
    setKept(next);
    const count = next.filter(Boolean).length;
    if (Number(v.num_layers) < count || Number(v.num_layers) === kept.filter(Boolean).length) setV({ ...v, num_layers: String(count) });
  };
  const derive = async () => {
    setError(null);
    setServerField(null);
    setBusy(true);
    try {
      const child = await post<ConfigDoc>(`/configs/${enc(c.config_id)}/derive`, { name, edit });
      const started = await post<{ job_name: string }>(`/configs/${enc(child.config_id)}/arch-test`, {});
      navigate(`/configs/${enc(child.config_id)}/arch?job=${enc(started.job_name)}`);
    } catch (e) {
      if (e instanceof ApiError && e.field) setServerField({ field: e.field, message: e.message });
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  const fields = Object.keys(FIELDS[c.family] ?? {}).filter((g) => g in parent) as Generic[];
  return (
    <>
      <section className="card" aria-labelledby="arch-edit-title">
        <h2 id="arch-edit-title">{t("arch.edit")}</h2>
        <p className="muted">{t("arch.editHelp")}</p>
        <div className="leaf-grid" data-testid="arch-fields">
          {fields.map((g) => {
            const err = fieldError(g);
            const fid = `arch-${g}`;
            return (
              <div key={g} className={`field${err ? " has-error" : ""}`}>
                <label htmlFor={fid}>
                  {t(LABELS[g])} <code className="muted">{FIELDS[c.family]?.[g]}</code>
                </label>
                {g === "activation" ? (
                  <select id={fid} value={v[g]} onChange={(e) => setV({ ...v, [g]: e.target.value })}>
                    {ACTIVATIONS.map((a) => (
                      <option key={a}>{a}</option>
                    ))}
                  </select>
                ) : (
                  <input
                    id={fid}
                    inputMode={g.endsWith("dropout") ? "decimal" : "numeric"}
                    value={v[g] ?? ""}
                    aria-invalid={err ? true : undefined}
                    aria-describedby={err ? `${fid}-error` : undefined}
                    onChange={(e) => setV({ ...v, [g]: e.target.value })}
                  />
                )}
                {err ? (
                  <small className="bad" id={`${fid}-error`} role="alert">
                    {err}
                  </small>
                ) : v[g] !== parent[g] ? (
                  <small>
                    {t("arch.was")} {parent[g]}
                  </small>
                ) : null}
              </div>
            );
          })}
        </div>
        <LayerTable family={c.family} parentLayers={parentLayers} parent={parent} values={v} keep={keepList} kept={albert ? null : kept} onKeep={setKeep} />
        <div className="inline-form">
          <div className="field">
            <label htmlFor="arch-child-name">{t("arch.childName")}</label>
            <input id="arch-child-name" value={name} onChange={(e) => setName(e.target.value)} />
          </div>
          <button type="button" className="primary" disabled={busy || !changed || found.length > 0 || !name.trim()} onClick={() => void derive()}>
            {busy ? t("common.working") : t("arch.deriveAndTest")}
          </button>
          {!changed && <span className="muted">{t("arch.noChange")}</span>}
        </div>
        {error !== null && <ErrorBox error={error} />}
      </section>
    </>
  );
}

function Derived({ config: c, lineage }: { config: ConfigDoc; lineage: Lineage }) {
  const { t } = useI18n();
  const { search } = useLocation();
  const job = search.get("job");
  const [options, setOptions] = useState({ seq_len: "32", batch_size: "2", repeats: "5" });
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const start = async () => {
    setError(null);
    setBusy(true);
    try {
      const body = Object.fromEntries(Object.entries(options).map(([k, x]) => [k, Number(x)]));
      const started = await post<{ job_name: string }>(`/configs/${enc(c.config_id)}/arch-test`, body);
      navigate(`/configs/${enc(c.config_id)}/arch?job=${enc(started.job_name)}`, { replace: true });
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <section className="card" aria-labelledby="arch-test-title" data-testid="arch-derived">
      <h2 id="arch-test-title">{t("arch.testTitle")}</h2>
      <p>
        {t("arch.derivedFrom")} <Link to={`/configs/${enc(lineage.config_id)}/arch`}>{lineage.config_id}</Link> · {t("common.version")} {lineage.version} · {t("arch.theEdit")}{" "}
        <code>{JSON.stringify(lineage.edit)}</code>
      </p>
      {Object.keys(lineage.layer_map ?? {}).length > 0 && (
        <p data-testid="layer-map">
          {t("arch.layerMap")}{" "}
          {Object.entries(lineage.layer_map).map(([child, from]) => (
            <span key={child} className={`tag${from === null ? " new" : ""}`}>
              {t("arch.layer")} {child} ← {from === null ? t("arch.newLayer") : t("arch.parentLayer", { i: from })}
            </span>
          ))}
        </p>
      )}
      <div className="inline-form">
        {(["seq_len", "batch_size", "repeats"] as const).map((k) => (
          <div key={k} className="field">
            <label htmlFor={`arch-opt-${k}`}>{t(`arch.opt.${k}`)}</label>
            <input id={`arch-opt-${k}`} inputMode="numeric" value={options[k]} onChange={(e) => setOptions({ ...options, [k]: e.target.value })} />
          </div>
        ))}
        <button type="button" className="primary" disabled={busy} onClick={() => void start()}>
          {job ? t("arch.testAgain") : t("arch.test")}
        </button>
      </div>
      {error !== null && <ErrorBox error={error} />}
      {job ? <ArchTestPanel key={job} jobName={job} /> : <p className="muted">{t("arch.noTest")}</p>}
    </section>
  );
}
