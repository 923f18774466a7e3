import { useState, type FormEvent } from "react";
import { del, enc, get, put } from "../../api/client";
import type { Project, Role, RunSummary } from "../../api/types";
import { Field, Page } from "../../components/Page";
import { Async, Empty, ErrorBox, StatusBadge } from "../../components/status";
import { useI18n } from "../../i18n";
import { when } from "../../lib/format";
import { useProject } from "../../lib/project";
import { Link } from "../../lib/router";
import { useAsync } from "../../lib/useAsync";

const ROLES: Role[] = ["viewer", "editor", "owner"];

export function ProjectDetail({ params }: { params: Record<string, string> }) {
  const { t } = useI18n();
  const id = params.projectId;
  const { setProjectId } = useProject();
  const project = useAsync((s) => get<Project>(`/projects/${enc(id)}`, undefined, s), [id]);
  return (
    <Async state={project}>
      {(p) => (
        <Page
          title={p.name}
          actions={
            <button type="button" onClick={() => setProjectId(p.project_id)}>
              {t("project.use")}
            </button>
          }
        >
          {p.description && <p>{p.description}</p>}
          <p className="muted">
            {t("common.id")}: <code>{p.project_id}</code>
          </p>
          <div className="grid2">
            <Members project={p} onChange={project.reload} />
            <Activity projectId={p.project_id} />
          </div>
        </Page>
      )}
    </Async>
  );
}

function Members({ project, onChange }: { project: Project; onChange: () => void }) {
  const { t } = useI18n();
  const [user, setUser] = useState("");
  const [role, setRole] = useState<Role>("viewer");
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const run = async (fn: () => Promise<unknown>) => {
    setBusy(true);
    setError(null);
    try {
      await fn();
      onChange();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const add = (e: FormEvent) => {
    e.preventDefault();
    void run(async () => {
      await put(`/projects/${enc(project.project_id)}/members/${enc(user.trim())}`, { role });
      setUser("");
    });
  };
  return (
    <section className="card" aria-labelledby="members-title">
      <h2 id="members-title">{t("projects.members")}</h2>
      <table>
        <thead>
          <tr>
            <th scope="col">{t("projects.user")}</th>
            <th scope="col">{t("projects.role")}</th>
            <th scope="col">
              <span className="sr-only">{t("common.actions")}</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {Object.entries(project.members).map(([uid, r]) => (
            <tr key={uid}>
              <td>{uid}</td>
              <td>
                <select
                  value={r}
                  aria-label={t("projects.roleOf", { user: uid })}
                  disabled={busy}
                  onChange={(e) => void run(() => put(`/projects/${enc(project.project_id)}/members/${enc(uid)}`, { role: e.target.value }))}
                >
                  {ROLES.map((x) => (
                    <option key={x} value={x}>
                      {t(`role.${x}`)}
                    </option>
                  ))}
                </select>
              </td>
              <td>
                <button type="button" className="danger" disabled={busy} onClick={() => void run(() => del(`/projects/${enc(project.project_id)}/members/${enc(uid)}`))}>
                  {t("common.remove")}
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <form className="inline-form" onSubmit={add} aria-label={t("projects.addMember")}>
        <Field label={t("projects.userOrEmail")} htmlFor="member-user">
          <input id="member-user" value={user} onChange={(e) => setUser(e.target.value)} required />
        </Field>
        <Field label={t("projects.role")} htmlFor="member-role">
          <select id="member-role" value={role} onChange={(e) => setRole(e.target.value as Role)}>
            {ROLES.map((x) => (
              <option key={x} value={x}>
                {t(`role.${x}`)}
              </option>
            ))}
          </select>
        </Field>
        <button type="submit" disabled={busy || !user.trim()}>
          {t("projects.addMember")}
        </button>
      </form>
      {error !== null && <ErrorBox error={error} />}
    </section>
  );
}

/** What happened in the project lately: its workflow runs (the API has no project event feed yet). */
function Activity({ projectId }: { projectId: string }) {
  const { t, lang } = useI18n();
  const runs = useAsync((s) => get<{ items: (RunSummary & { started_at?: string | null })[] }>("/runs", { project_id: projectId, limit: 20 }, s), [projectId]);
  return (
    <section className="card" aria-labelledby="activity-title">
      <h2 id="activity-title">{t("projects.activity")}</h2>
      <Async state={runs}>
        {(data) =>
          data.items.length === 0 ? (
            <Empty>{t("projects.noActivity")}</Empty>
          ) : (
            <ul className="feed">
              {data.items.map((r) => (
                <li key={r.run_id}>
                  <StatusBadge status={r.status} /> <Link to={`/runs/${enc(r.run_id)}`}>{r.workflow}</Link>{" "}
                  <span className="muted">{when(r.started_at ?? null, lang)}</span>
                </li>
              ))}
            </ul>
          )
        }
      </Async>
    </section>
  );
}
