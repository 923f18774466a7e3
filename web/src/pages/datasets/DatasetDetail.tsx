import { useState } from "react";
import { enc, get, post } from "../../api/client";
import type { History, Model } from "../../api/types";
import { Page } from "../../components/Page";
import { Async, Empty, ErrorBox } from "../../components/status";
import { useI18n } from "../../i18n";
import { bytes } from "../../lib/format";
import { Link } from "../../lib/router";
import { useAsync } from "../../lib/useAsync";
import { HistoryTable } from "../library/HistoryTable";

interface Split {
  file: string;
  path: string;
  rows?: number;
  counts?: Record<string, number>;
  [k: string]: unknown;
}
interface Validation {
  valid: boolean;
  state: "valid" | "invalid" | "pending";
  problems: { path: string | null; reason: string; field: string | null }[];
  pending: string[];
  labels: string[];
  counts: Record<string, number>;
  rows: number;
  splits: Record<string, Split>;
}
type Dataset = Model & { validation?: Validation };

export function DatasetDetail({ params }: { params: Record<string, string> }) {
  const { t } = useI18n();
  const id = params.datasetId;
  const ds = useAsync((s) => get<Dataset>(`/datasets/${enc(id)}`, undefined, s), [id]);
  const history = useAsync((s) => get<History>(`/models/${enc(id)}/history`, undefined, s), [id]);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const validate = async () => {
    setBusy(true);
    setError(null);
    try {
      await post(`/datasets/${enc(id)}/validate`);
      ds.reload();
      history.reload();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Async state={ds}>
      {(d) => (
        <Page
          title={d.name}
          actions={
            <>
              <Link to={`/models/${enc(d.model_id)}`}>{t("datasets.files")}</Link>
              <button type="button" onClick={() => void validate()} disabled={busy}>
                {t("datasets.validate")}
              </button>
            </>
          }
        >
          {d.description && <p>{d.description}</p>}
          {error !== null && <ErrorBox error={error} />}
          {d.validation ? <Report v={d.validation} /> : <Empty />}
          <section className="card">
            <h2>{t("library.files")}</h2>
            <ul>
              {d.files.map((f) => (
                <li key={f.path}>
                  {f.path} · {bytes(f.size)}
                </li>
              ))}
            </ul>
          </section>
          <section className="card">
            <h2>{t("common.history")}</h2>
            <Async state={history}>{(h) => <HistoryTable items={h.items} />}</Async>
          </section>
        </Page>
      )}
    </Async>
  );
}

function Report({ v }: { v: Validation }) {
  const { t } = useI18n();
  const labels = v.labels;
  return (
    <section className="card" aria-labelledby="report-title" data-testid="validation">
      <h2 id="report-title">
        {t("datasets.report")}: <span className={`badge badge-${v.state}`}>{t(`datasets.state.${v.state}`)}</span>
      </h2>
      {v.problems.length > 0 && (
        <ul className="problems">
          {v.problems.map((p, i) => (
            <li key={i} className="bad">
              {p.path ?? t("datasets.whole")}: {p.reason}
              {p.field ? ` (${t("error.field")}: ${p.field})` : ""}
            </li>
          ))}
        </ul>
      )}
      {v.pending.length > 0 && <p>{t("datasets.pending", { files: v.pending.join(", ") })}</p>}
      <p>{t("datasets.rows", { n: v.rows })}</p>
      {Object.keys(v.splits).length > 0 && (
        <table>
          <thead>
            <tr>
              <th scope="col">{t("datasets.split")}</th>
              <th scope="col">{t("library.path")}</th>
              <th scope="col">{t("datasets.rowsCol")}</th>
              {labels.map((l) => (
                <th key={l} scope="col">
                  {t("datasets.label")} {l}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {Object.entries(v.splits).map(([name, s]) => (
              <tr key={name}>
                <td>{name}</td>
                <td>{s.path}</td>
                <td>{s.rows ?? "–"}</td>
                {labels.map((l) => (
                  <td key={l}>{s.counts?.[l] ?? 0}</td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
