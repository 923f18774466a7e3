// The project the module pages work in: chosen in the header, remembered per tab, and also
// accepted from ?project= so a link can name it.
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from "react";
import { get } from "../api/client";
import type { ProjectSummary } from "../api/types";
import { useAsync, type AsyncState } from "./useAsync";

const KEY = "tlm.project";

interface ProjectCtx {
  projectId: string | null;
  setProjectId: (id: string | null) => void;
  projects: AsyncState<{ items: ProjectSummary[] }>;
}

const Ctx = createContext<ProjectCtx | null>(null);

export function ProjectProvider({ children }: { children: ReactNode }) {
  const projects = useAsync((signal) => get<{ items: ProjectSummary[] }>("/projects", undefined, signal), []);
  const [projectId, setState] = useState<string | null>(() => {
    // a link's ?project= wins and is remembered for this tab (later reloads keep it)
    const named = new URLSearchParams(window.location.search).get("project");
    if (named) sessionStorage.setItem(KEY, named);
    return named ?? sessionStorage.getItem(KEY);
  });
  const setProjectId = useCallback((id: string | null) => {
    setState(id);
    if (id) sessionStorage.setItem(KEY, id);
    else sessionStorage.removeItem(KEY);
  }, []);
  const items = projects.data?.items;
  useEffect(() => {
    // none chosen (or the chosen one is gone): the first project the caller can see
    if (items && (!projectId || !items.some((p) => p.project_id === projectId))) setProjectId(items[0]?.project_id ?? null);
  }, [items, projectId, setProjectId]);
  const value = useMemo(() => ({ projectId, setProjectId, projects }), [projectId, setProjectId, projects]);
  return <Ctx.Provider value={value}>{children}</Ctx.Provider>;
}

export function useProject(): ProjectCtx {
  const c = useContext(Ctx);
  if (!c) throw new Error("useProject outside ProjectProvider");
  return c;
}
