import type { ReactNode } from "react";
import { useI18n } from "../i18n";
import { Link } from "../lib/router";
import { useProject } from "../lib/project";
import { Empty, Loading } from "./status";

export function Page({ title, actions, children }: { title: ReactNode; actions?: ReactNode; children: ReactNode }) {
  return (
    <section className="page">
      <div className="page-head">
        <h1>{title}</h1>
        {actions && <div className="actions">{actions}</div>}
      </div>
      {children}
    </section>
  );
}

/** The module pages need a project: until one exists, say where to make it. */
export function WithProject({ children }: { children: (projectId: string) => ReactNode }) {
  const { t } = useI18n();
  const { projectId, projects } = useProject();
  if (projects.data === undefined && projects.error === undefined) return <Loading />;
  if (!projectId)
    return (
      <Empty>
        {t("project.none")} <Link to="/projects">{t("project.create")}</Link>
      </Empty>
    );
  return <>{children(projectId)}</>;
}

export function Field({ label, htmlFor, children, hint }: { label: string; htmlFor: string; children: ReactNode; hint?: string }) {
  return (
    <div className="field">
      <label htmlFor={htmlFor}>{label}</label>
      {children}
      {hint && <small>{hint}</small>}
    </div>
  );
}
