import { useState, type FormEvent } from "react";
import { get, post } from "../../api/client";
import type { Project, ProjectSummary } from "../../api/types";
import { Field, Page } from "../../components/Page";
import { Async, Empty, ErrorBox } from "../../components/status";
import { useI18n } from "../../i18n";
import { stamp } from "../../lib/format";
import { useProject } from "../../lib/project";
import { Link, navigate } from "../../lib/router";
import { useAsync } from "../../lib/useAsync";

export function ProjectList() {
  const { t, lang } = useI18n();
  const { setProjectId, projects: shared } = useProject();
  const list = useAsync((s) => get<{ items: ProjectSummary[] }>("/projects", undefined, s), []);
  const [name, setName] = useState("");
  const [description, setDescription] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const create = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const p = await post<Project>("/projects", { name: name.trim(), description });
      setProjectId(p.project_id);
      shared.reload();
      navigate(`/projects/${encodeURIComponent(p.project_id)}`);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Page title={t("projects.title")}>
      <form className="card inline-form" onSubmit={create} aria-label={t("projects.create")}>
        <h2>{t("projects.create")}</h2>
        <Field label={t("projects.name")} htmlFor="project-name">
          <input id="project-name" value={name} onChange={(e) => setName(e.target.value)} required maxLength={128} />
        </Field>
        <Field label={t("projects.description")} htmlFor="project-description">
          <input id="project-description" value={description} onChange={(e) => setDescription(e.target.value)} maxLength={4000} />
        </Field>
        <button type="submit" className="primary" disabled={busy || !name.trim()}>
          {t("projects.createButton")}
        </button>
        {error !== null && <ErrorBox error={error} />}
      </form>
      <Async state={list}>
        {(data) =>
          data.items.length === 0 ? (
            <Empty>{t("projects.empty")}</Empty>
          ) : (
            <table>
              <caption className="sr-only">{t("projects.title")}</caption>
              <thead>
                <tr>
                  <th scope="col">{t("projects.name")}</th>
                  <th scope="col">{t("projects.role")}</th>
                  <th scope="col">{t("projects.members")}</th>
                  <th scope="col">{t("common.created")}</th>
                </tr>
              </thead>
              <tbody>
                {data.items.map((p) => (
                  <tr key={p.project_id}>
                    <td>
                      <Link to={`/projects/${encodeURIComponent(p.project_id)}`}>{p.name}</Link>
                      {p.description && <div className="muted">{p.description}</div>}
                    </td>
                    <td>{t(`role.${p.role}` as "role.owner")}</td>
                    <td>{Object.keys(p.members).length}</td>
                    <td>{stamp(p.created, lang)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )
        }
      </Async>
    </Page>
  );
}
