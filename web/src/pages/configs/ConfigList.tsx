import { useState, type FormEvent } from "react";
import { enc, get, post } from "../../api/client";
import type { Config, TemplateList } from "../../api/types";
import { Field, Page, WithProject } from "../../components/Page";
import { Async, Empty, ErrorBox } from "../../components/status";
import { useI18n } from "../../i18n";
import { Link, navigate } from "../../lib/router";
import { BatchEdit, ImportConfig } from "./ConfigTools";
import { useAsync } from "../../lib/useAsync";

export function ConfigList() {
  const { t } = useI18n();
  return (
    <Page title={t("configs.title")}>
      <WithProject>{(pid) => <Configs projectId={pid} />}</WithProject>
    </Page>
  );
}

function Configs({ projectId }: { projectId: string }) {
  const { t } = useI18n();
  const list = useAsync((s) => get<{ items: Config[] }>(`/projects/${enc(projectId)}/configs`, undefined, s), [projectId]);
  const [picked, setPicked] = useState<string[]>([]);
  const toggle = (id: string) => setPicked((p) => (p.includes(id) ? p.filter((x) => x !== id) : [...p, id]));
  return (
    <>
      <div className="grid2">
        <CreateConfig projectId={projectId} />
        <ImportConfig projectId={projectId} />
      </div>
      <Async state={list}>
        {(data) =>
          data.items.length === 0 ? (
            <Empty>{t("configs.empty")}</Empty>
          ) : (
            <table>
              <thead>
                <tr>
                  <th scope="col">{t("configs.pick")}</th>
                  <th scope="col">{t("library.name")}</th>
                  <th scope="col">{t("library.family")}</th>
                  <th scope="col">{t("common.version")}</th>
                  <th scope="col">{t("library.description")}</th>
                </tr>
              </thead>
              <tbody>
                {data.items.map((c) => (
                  <tr key={c.config_id}>
                    <td>
                      <input type="checkbox" checked={picked.includes(c.config_id)} onChange={() => toggle(c.config_id)} aria-label={t("configs.pickOne", { name: c.name })} />
                    </td>
                    <td>
                      <Link to={`/configs/${enc(c.config_id)}`}>{c.name}</Link>
                    </td>
                    <td>{c.family}</td>
                    <td>{c.version}</td>
                    <td>{c.description}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )
        }
      </Async>
      <BatchEdit configIds={picked} onDone={list.reload} />
    </>
  );
}

function CreateConfig({ projectId }: { projectId: string }) {
  const { t } = useI18n();
  const templates = useAsync((s) => get<TemplateList>("/config-templates", undefined, s), []);
  const [template, setTemplate] = useState("");
  const [name, setName] = useState("");
  const [error, setError] = useState<unknown>(null);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    try {
      const c = await post<Config>(`/projects/${enc(projectId)}/configs`, { template, name: name.trim() || null });
      navigate(`/configs/${enc(c.config_id)}`);
    } catch (err) {
      setError(err);
    }
  };
  return (
    <form className="card" onSubmit={submit} aria-labelledby="new-config">
      <h2 id="new-config">{t("configs.create")}</h2>
      <Async state={templates}>
        {(data) => (
          <Field label={t("configs.template")} htmlFor="config-template">
            <select id="config-template" value={template} onChange={(e) => setTemplate(e.target.value)} required>
              <option value="">{t("common.choose")}</option>
              {data.items.map((tp) => (
                <option key={tp.name} value={tp.name}>
                  {tp.name} — {tp.description}
                </option>
              ))}
            </select>
          </Field>
        )}
      </Async>
      <Field label={t("library.name")} htmlFor="config-name">
        <input id="config-name" value={name} onChange={(e) => setName(e.target.value)} />
      </Field>
      <button type="submit" className="primary" disabled={!template}>
        {t("configs.createButton")}
      </button>
      {error !== null && <ErrorBox error={error} />}
    </form>
  );
}
