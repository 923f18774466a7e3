import { useState } from "react";
import { enc, get } from "../../api/client";
import { Async, ErrorBox } from "../../components/status";
import { useI18n } from "../../i18n";
import { when } from "../../lib/format";
import { useAsync } from "../../lib/useAsync";

interface HistoryItem {
  version: number;
  type: string;
  actor: string;
  occurred_at: string;
  reason: string | null;
  nodes_changed: string[];
}

interface Change {
  path: string;
  kind: string;
  old: unknown;
  new: unknown;
}

interface Diff {
  from_version: number;
  to_version: number;
  nodes: { added: string[]; removed: string[]; changed: string[] };
  changes: Change[];
}

const show = (v: unknown) => (v === null || v === undefined ? "–" : typeof v === "string" ? v : JSON.stringify(v));

/** Every version (who, when, which nodes), one to open in the editor, and a diff of two. */
export function PipelineHistory({ pipelineId, current, onOpen }: { pipelineId: string; current: number; onOpen: (v: number) => void }) {
  const { t, lang } = useI18n();
  const history = useAsync((s) => get<{ items: HistoryItem[] }>(`/pipelines/${enc(pipelineId)}/history`, undefined, s), [pipelineId]);
  const [from, setFrom] = useState<number | null>(null);
  const [to, setTo] = useState<number | null>(null);
  const [diff, setDiff] = useState<Diff | null>(null);
  const [error, setError] = useState<unknown>(null);
  const compare = async (a: number, b: number) => {
    setError(null);
    try {
      setDiff(await get<Diff>(`/pipelines/${enc(pipelineId)}/diff`, { from_version: a, to_version: b }));
    } catch (e) {
      setError(e);
    }
  };
  return (
    <section className="card" aria-labelledby="history-title">
      <h2 id="history-title">{t("pipelines.history")}</h2>
      <Async state={history}>
        {(h) => {
          const versions = h.items.filter((i) => i.type !== "pipeline.deleted").map((i) => i.version);
          const a = from ?? (versions.length > 1 ? versions[versions.length - 2] : versions[0]);
          const b = to ?? versions[versions.length - 1];
          return (
            <>
              <table data-testid="history">
                <thead>
                  <tr>
                    <th scope="col">{t("pipelines.version")}</th>
                    <th scope="col">{t("pipelines.by")}</th>
                    <th scope="col">{t("pipelines.when")}</th>
                    <th scope="col">{t("pipelines.nodesChanged")}</th>
                    <th scope="col">{t("common.actions")}</th>
                  </tr>
                </thead>
                <tbody>
                  {[...h.items].reverse().map((i) => (
                    <tr key={i.version}>
                      <td>
                        v{i.version} {i.version === current && <span className="muted">({t("pipelines.shown")})</span>}
                      </td>
                      <td>{i.actor}</td>
                      <td>{when(i.occurred_at, lang)}</td>
                      <td>{i.nodes_changed.join(", ") || "–"}</td>
                      <td>
                        <button type="button" onClick={() => onOpen(i.version)}>
                          {t("pipelines.open")}
                        </button>
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
              {versions.length > 1 && (
                <div className="row wrap">
                  <label htmlFor="diff-from">{t("pipelines.diffFrom")}</label>
                  <select id="diff-from" value={a} onChange={(e) => setFrom(Number(e.target.value))}>
                    {versions.map((v) => (
                      <option key={v} value={v}>
                        v{v}
                      </option>
                    ))}
                  </select>
                  <label htmlFor="diff-to">{t("pipelines.diffTo")}</label>
                  <select id="diff-to" value={b} onChange={(e) => setTo(Number(e.target.value))}>
                    {versions.map((v) => (
                      <option key={v} value={v}>
                        v{v}
                      </option>
                    ))}
                  </select>
                  <button type="button" onClick={() => void compare(a, b)}>
                    {t("pipelines.diff")}
                  </button>
                </div>
              )}
            </>
          );
        }}
      </Async>
      {error !== null && <ErrorBox error={error} />}
      {diff && (
        <div data-testid="diff">
          <p>
            v{diff.from_version} → v{diff.to_version}:{" "}
            <span className="diff-added">
              {t("pipelines.added")}: {diff.nodes.added.join(", ") || "–"}
            </span>{" "}
            ·{" "}
            <span className="diff-removed">
              {t("pipelines.removed")}: {diff.nodes.removed.join(", ") || "–"}
            </span>{" "}
            · {t("pipelines.changed")}: {diff.nodes.changed.join(", ") || "–"}
          </p>
          {diff.changes.length === 0 ? (
            <p className="muted">{t("pipelines.noChanges")}</p>
          ) : (
            <table>
              <thead>
                <tr>
                  <th scope="col">{t("pipelines.path")}</th>
                  <th scope="col">{t("pipelines.change")}</th>
                  <th scope="col">{t("pipelines.old")}</th>
                  <th scope="col">{t("pipelines.newValue")}</th>
                </tr>
              </thead>
              <tbody>
                {diff.changes.map((c) => (
                  <tr key={c.path}>
                    <td>
                      <code>{c.path}</code>
                    </td>
                    <td className={`diff-${c.kind}`}>{c.kind}</td>
                    <td>{show(c.old)}</td>
                    <td>{show(c.new)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </div>
      )}
    </section>
  );
}
