import { useEffect, useState } from "react";
import { useI18n, type Lang } from "./i18n";
import { getToken, onSessionChange, signOut } from "./lib/session";
import { Link, match, navigate, useLocation } from "./lib/router";
import { ProjectProvider, useProject } from "./lib/project";
import { get } from "./api/client";
import type { Me } from "./api/types";
import { ROUTES } from "./routes";
import { SignIn } from "./pages/SignIn";
import { useAsync } from "./lib/useAsync";

export function App() {
  const [token, setToken] = useState(getToken);
  useEffect(() => onSessionChange(() => setToken(getToken())), []);
  if (!token) return <SignIn />;
  return (
    <ProjectProvider key={token}>
      <Shell />
    </ProjectProvider>
  );
}

function LanguageSwitch() {
  const { lang, setLang, t } = useI18n();
  return (
    <label className="lang">
      <span className="sr-only">{t("app.language")}</span>
      <select value={lang} onChange={(e) => setLang(e.target.value as Lang)} aria-label={t("app.language")} data-testid="language">
        <option value="zh-CN">中文</option>
        <option value="en">English</option>
      </select>
    </label>
  );
}

function ProjectPicker() {
  const { t } = useI18n();
  const { projectId, setProjectId, projects } = useProject();
  const items = projects.data?.items ?? [];
  return (
    <label className="picker">
      <span>{t("app.project")}</span>
      <select value={projectId ?? ""} onChange={(e) => setProjectId(e.target.value || null)} disabled={!items.length} data-testid="project-picker">
        {!items.length && <option value="">{t("app.noProject")}</option>}
        {items.map((p) => (
          <option key={p.project_id} value={p.project_id}>
            {p.name}
          </option>
        ))}
      </select>
    </label>
  );
}

function Shell() {
  const { t } = useI18n();
  const { path } = useLocation();
  const me = useAsync((s) => get<Me>("/me", undefined, s), []);
  const [menuOpen, setMenuOpen] = useState(false);
  useEffect(() => {
    if (path === "/" || path === "") navigate("/projects", { replace: true });
    setMenuOpen(false);
  }, [path]);
  let found: { Page: (typeof ROUTES)[number]["page"]; params: Record<string, string> } | null = null;
  for (const r of ROUTES) {
    const params = match(r.path, path);
    if (params) {
      found = { Page: r.page, params };
      break;
    }
  }
  const section = "/" + (path.split("/")[1] ?? "");
  return (
    <div className="app">
      <a className="skip" href="#main">
        {t("app.skip")}
      </a>
      <header className="top">
        <Link to="/projects" className="brand">
          TLM <span>{t("app.subtitle")}</span>
        </Link>
        <button type="button" className="menu-toggle" aria-expanded={menuOpen} aria-controls="nav" onClick={() => setMenuOpen((o) => !o)}>
          {t("app.menu")}
        </button>
        <nav id="nav" aria-label={t("app.nav")} className={menuOpen ? "open" : ""}>
          {ROUTES.filter((r) => r.nav).map((r) => (
            <Link key={r.path} to={r.path} aria-current={section === r.path || (r.path === "/library" && section === "/models") ? "page" : undefined}>
              {t(r.nav!)}
            </Link>
          ))}
        </nav>
        <div className="tools">
          <ProjectPicker />
          <LanguageSwitch />
          <span className="user" data-testid="user">
            {me.data?.user_id ?? "…"}
          </span>
          <button type="button" onClick={signOut} data-testid="sign-out">
            {t("app.signOut")}
          </button>
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        {found ? <found.Page key={path} params={found.params} /> : <NotFound />}
      </main>
    </div>
  );
}

function NotFound() {
  const { t } = useI18n();
  return (
    <section>
      <h1>{t("error.pageNotFound")}</h1>
      <Link to="/projects">{t("nav.projects")}</Link>
    </section>
  );
}
