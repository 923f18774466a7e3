import { useState, type FormEvent } from "react";
import { enc, get, post } from "../../api/client";
import type { Config, ModelPage } from "../../api/types";
import { Field, Page, WithProject } from "../../components/Page";
import { Async, Empty, ErrorBox, StatusBadge } from "../../components/status";
import { useI18n } from "../../i18n";
import { when } from "../../lib/format";
import { Link, navigate } from "../../lib/router";
import { useAsync } from "../../lib/useAsync";

interface TrainingRow {
  training_id: string;
  name: string;
  state: string;
  model_id: string | null;
  started_at: string | null;
}

export function TrainingList() {
  const { t } = useI18n();
  return (
    <Page title={t("trainings.title")} actions={<Link to="/leaderboard">{t("trainings.leaderboard")}</Link>}>
      <WithProject>{(pid) => <Trainings projectId={pid} />}</WithProject>
    </Page>
  );
}

function Trainings({ projectId }: { projectId: string }) {
  const { t, lang } = useI18n();
  const list = useAsync((s) => get<{ items: TrainingRow[] }>(`/projects/${enc(projectId)}/trainings`, undefined, s), [projectId]);
  return (
    <>
      <StartTraining projectId={projectId} />
      <Async state={list}>
        {(data) =>
          data.items.length === 0 ? (
            <Empty>{t("trainings.empty")}</Empty>
          ) : (
            <table>
              <thead>
                <tr>
                  <th scope="col">{t("library.name")}</th>
                  <th scope="col">{t("runs.status")}</th>
                  <th scope="col">{t("trainings.model")}</th>
                  <th scope="col">{t("runs.started")}</th>
                </tr>
              </thead>
              <tbody>
                {data.items.map((r) => (
                  <tr key={r.training_id}>
                    <td>
                      <Link to={`/trainings/${enc(r.training_id)}`}>{r.name}</Link>
                    </td>
                    <td>
                      <StatusBadge status={r.state} />
                    </td>
                    <td>{r.model_id ? <Link to={`/models/${enc(r.model_id)}`}>{r.model_id}</Link> : "–"}</td>
                    <td>{when(r.started_at, lang)}</td>
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

function StartTraining({ projectId }: { projectId: string }) {
  const { t } = useI18n();
  const configs = useAsync((s) => get<{ items: Config[] }>(`/projects/${enc(projectId)}/configs`, undefined, s), [projectId]);
  const datasets = useAsync((s) => get<ModelPage>("/datasets", { project_id: projectId, limit: 200 }, s), [projectId]);
  const [configId, setConfigId] = useState("");
  const [datasetId, setDatasetId] = useState("");
  const [name, setName] = useState("");
  const [error, setError] = useState<unknown>(null);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    try {
      const out = await post<{ training_id: string }>(`/projects/${enc(projectId)}/trainings`, { config_id: configId, dataset_id: datasetId, name: name.trim() });
      navigate(`/trainings/${enc(out.training_id)}`);
    } catch (err) {
      setError(err);
    }
  };
  return (
    <form className="card inline-form" onSubmit={submit} aria-labelledby="start-training">
      <h2 id="start-training">{t("trainings.start")}</h2>
      <Field label={t("trainings.config")} htmlFor="training-config">
        <select id="training-config" value={configId} onChange={(e) => setConfigId(e.target.value)} required>
          <option value="">{t("common.choose")}</option>
          {(configs.data?.items ?? []).map((c) => (
            <option key={c.config_id} value={c.config_id}>
              {c.name} (v{c.version})
            </option>
          ))}
        </select>
      </Field>
      <Field label={t("trainings.dataset")} htmlFor="training-dataset">
        <select id="training-dataset" value={datasetId} onChange={(e) => setDatasetId(e.target.value)} required>
          <option value="">{t("common.choose")}</option>
          {(datasets.data?.items ?? []).map((d) => (
            <option key={d.model_id} value={d.model_id}>
              {d.name}
            </option>
          ))}
        </select>
      </Field>
      <Field label={t("library.name")} htmlFor="training-name">
        <input id="training-name" value={name} onChange={(e) => setName(e.target.value)} required />
      </Field>
      <button type="submit" className="primary" disabled={!configId || !datasetId || !name.trim()}>
        {t("trainings.startButton")}
      </button>
      {(configs.error !== undefined || datasets.error !== undefined) && <ErrorBox error={configs.error ?? datasets.error} />}
      {error !== null && <ErrorBox error={error} />}
    </form>
  );
}
