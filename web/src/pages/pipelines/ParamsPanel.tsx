// The side panel: the selected node's parameters as a form built from its kind's JSON schema
// (strings, numbers, enums as fields; objects and lists as JSON), and the node's removal.
import { useState } from "react";
import { useI18n } from "../../i18n";
import type { NodeKind, ParamSchema, PortNodeType } from "./model";

function baseType(s: ParamSchema): string {
  if (s.enum) return "enum";
  if (s.type) return s.type;
  const t = s.anyOf?.find((x) => x.type && x.type !== "null");
  return t?.enum ? "enum" : t?.type ?? "string";
}

export function ParamsPanel({
  node,
  kind,
  onChange,
  onRemove,
}: {
  node: PortNodeType;
  kind: NodeKind | undefined;
  onChange: (params: Record<string, unknown>) => void;
  onRemove: () => void;
}) {
  const { t } = useI18n();
  const props = kind?.params_schema.properties ?? {};
  const required = new Set(kind?.params_schema.required ?? []);
  const [bad, setBad] = useState<Record<string, boolean>>({});
  const set = (key: string, value: unknown) => {
    const next = { ...node.data.params };
    if (value === undefined || value === "") delete next[key];
    else next[key] = value;
    onChange(next);
  };
  return (
    <aside className="card params-panel" aria-labelledby="params-title" data-testid="params-panel">
      <h2 id="params-title">
        {t("pipelines.params")}: <code>{node.id}</code>
      </h2>
      <p className="muted">{kind?.summary}</p>
      {Object.keys(props).length === 0 && <p className="muted">{t("pipelines.noParams")}</p>}
      {Object.entries(props).map(([key, s]) => {
        const id = `param-${node.id}-${key}`;
        const type = baseType(s);
        const v = node.data.params[key];
        const label = `${key}${required.has(key) ? " *" : ""}`;
        const enumValues = s.enum ?? s.anyOf?.find((x) => x.enum)?.enum;
        return (
          <div className="field" key={`${node.id}-${key}`}>
            <label htmlFor={id}>{label}</label>
            {type === "enum" && enumValues ? (
              <select id={id} value={v === undefined ? "" : String(v)} onChange={(e) => set(key, e.target.value || undefined)}>
                <option value="">{s.default !== undefined ? `(${String(s.default)})` : t("common.choose")}</option>
                {enumValues.map((x) => (
                  <option key={x} value={x}>
                    {x}
                  </option>
                ))}
              </select>
            ) : type === "integer" || type === "number" ? (
              <input
                id={id}
                type="number"
                step={type === "integer" ? 1 : "any"}
                value={v === undefined || v === null ? "" : String(v)}
                placeholder={s.default !== undefined && s.default !== null ? String(s.default) : ""}
                onChange={(e) => set(key, e.target.value === "" ? undefined : Number(e.target.value))}
              />
            ) : type === "boolean" ? (
              <input id={id} type="checkbox" checked={v === true} onChange={(e) => set(key, e.target.checked)} />
            ) : type === "object" || type === "array" ? (
              <>
                <textarea
                  id={id}
                  rows={3}
                  defaultValue={v === undefined ? "" : JSON.stringify(v)}
                  aria-invalid={bad[key] ?? false}
                  onChange={(e) => {
                    const text = e.target.value.trim();
                    try {
                      set(key, text ? JSON.parse(text) : undefined);
                      setBad((b) => ({ ...b, [key]: false }));
                    } catch {
                      setBad((b) => ({ ...b, [key]: true }));
                    }
                  }}
                />
                {bad[key] && <small className="bad">{t("pipelines.badJson")}</small>}
              </>
            ) : (
              <input id={id} value={v === undefined || v === null ? "" : String(v)} onChange={(e) => set(key, e.target.value)} />
            )}
          </div>
        );
      })}
      <button type="button" className="danger" onClick={onRemove}>
        {t("pipelines.removeNode")}
      </button>
    </aside>
  );
}
