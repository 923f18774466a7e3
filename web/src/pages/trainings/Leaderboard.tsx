import { useState } from "react";
import { enc, get } from "../../api/client";
import type { ModelPage } from "../../api/types";
import { Field, Page, WithProject } from "../../components/Page";
import { Async, Empty } from "../../components/status";
import { useI18n } from "../../i18n";
import { Link } from "../../lib/router";
import { useAsync } from "../../lib/useAsync";

const SORTS = ["-test_accuracy", "-macro_f1", "best_val_loss", "train_minutes", "parameters"];
type Row = Record<string, unknown> & { model_id: string; name: string; rank: number };
interface Compare {
  a: { model_id: string; name: string };
  b: { model_id: string; name: string };
  metrics: Record<string, { a: number | null; b: number | null; delta: number | null }>;
  config_diff: { path: string; kind: string; old?: unknown; new?: unknown }[] | null;
}

const num = (v: unknown) => (typeof v === "number" ? Number(v.toFixed(4)) : v === null || v === undefined ? "–" : String(v));

export function Leaderboard() {
  const { t } = useI18n();
  return (
    <Page title={t("trainings.leaderboard")}>
      <WithProject>{(pid) => <Board projectId={pid} />}</WithProject>
    </Page>
  );
}

function Board({ projectId }: { projectId: string }) {
  const { t } = useI18n();
  const datasets = useAsync((s) => get<ModelPage>("/datasets", { project_id: projectId, limit: 200 }, s), [projectId]);
  const [datasetId, setDatasetId] = useState("");
  const [sort, setSort] = useState(SORTS[0]);
  const [picked, setPicked] = useState<string[]>([]);
  const chosen = datasetId || datasets.data?.items[0]?.model_id || "";
  const board = useAsync(
    (s) => (chosen ? get<{ items: Row[] }>(`/projects/${enc(projectId)}/leaderboard`, { dataset_id: chosen, sort }, s) : Promise.resolve({ items: [] as Row[] })),
    [projectId, chosen, sort],
  );
  const toggle = (id: string) => setPicked((p) => (p.includes(id) ? p.filter((x) => x !== id) : [...p.slice(-1), id]));
  const cols = ["test_accuracy", "macro_f1", "best_val_loss", "train_minutes", "parameters", "examples"];
  return (
    <>
      <div className="filters">
        <Field label={t("trainings.dataset")} htmlFor="lb-dataset">
          <select id="lb-dataset" value={chosen} onChange={(e) => setDatasetId(e.target.value)}>
            {(datasets.data?.items ?? []).map((d) => (
              <option key={d.model_id} value={d.model_id}>
                {d.name}
              </option>
            ))}
          </select>
        </Field>
        <Field label={t("library.sort")} htmlFor="lb-sort">
          <select id="lb-sort" value={sort} onChange={(e) => setSort(e.target.value)}>
            {SORTS.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </Field>
      </div>
      <Async state={board}>
        {(data) =>
          data.items.length === 0 ? (
            <Empty>{t("trainings.noModels")}</Empty>
          ) : (
            <table>
              <thead>
                <tr>
                  <th scope="col">{t("trainings.compare")}</th>
                  <th scope="col">#</th>
                  <th scope="col">{t("library.name")}</th>
                  {cols.map((c) => (
                    <th key={c} scope="col">
                      {c}
                    </th>
                  ))}
                </tr>
              </thead>
              <tbody>
                {data.items.map((r) => (
                  <tr key={r.model_id}>
                    <td>
                      <input type="checkbox" checked={picked.includes(r.model_id)} onChange={() => toggle(r.model_id)} aria-label={t("trainings.pick", { name: r.name })} />
                    </td>
                    <td>{r.rank}</td>
                    <td>
                      <Link to={`/models/${enc(r.model_id)}`}>{r.name}</Link>
                    </td>
                    {cols.map((c) => (
                      <td key={c}>{num(r[c])}</td>
                    ))}
                  </tr>
                ))}
              </tbody>
            </table>
          )
        }
      </Async>
      {picked.length === 2 && <CompareView a={picked[0]} b={picked[1]} />}
    </>
  );
}

function CompareView({ a, b }: { a: string; b: string }) {
  const { t } = useI18n();
  const cmp = useAsync((s) => get<Compare>(`/models/${enc(a)}/compare/${enc(b)}`, undefined, s), [a, b]);
  return (
    <section className="card" aria-labelledby="compare-title">
      <h2 id="compare-title">{t("trainings.compare")}</h2>
      <Async state={cmp}>
        {(c) => (
          <>
            <table>
              <thead>
                <tr>
                  <th scope="col">{t("trainings.metric")}</th>
                  <th scope="col">{c.a.name}</th>
                  <th scope="col">{c.b.name}</th>
                  <th scope="col">Δ</th>
                </tr>
              </thead>
              <tbody>
                {Object.entries(c.metrics).map(([k, v]) => (
                  <tr key={k}>
                    <td>{k}</td>
                    <td>{num(v.a)}</td>
                    <td>{num(v.b)}</td>
                    <td>{num(v.delta)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
            {c.config_diff && c.config_diff.length > 0 && (
              <table className="diff">
                <caption>{t("trainings.configDiff")}</caption>
                <tbody>
                  {c.config_diff.map((d) => (
                    <tr key={d.path}>
                      <td>
                        <code>{d.path}</code>
                      </td>
                      <td>
                        <del>{JSON.stringify(d.old)}</del>
                      </td>
                      <td>
                        <ins>{JSON.stringify(d.new)}</ins>
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          </>
        )}
      </Async>
    </section>
  );
}
