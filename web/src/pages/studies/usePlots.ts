import { useEffect, useState } from "react";
import { enc, get } from "../../api/client";
import { mergePlots } from "./merge";
import type { Plots } from "./types";

export interface PlotsState {
  plots: Plots | null;
  error: unknown;
  reads: number; // how many answers were merged (the page shows it; tests read it)
  after: number; // the next read's ?after=
}

/** The study's plots, read incrementally every ``ms`` while ``live``; one last read when it stops. */
export function usePlots(studyId: string, live: boolean, ms = 2000): PlotsState {
  const [state, setState] = useState<PlotsState>({ plots: null, error: undefined, reads: 0, after: 0 });
  useEffect(() => {
    const ctl = new AbortController();
    let timer = 0;
    let after = state.after;
    let plots = state.plots;
    let last = "";
    const read = async () => {
      try {
        const next = await get<Plots>(`/studies/${enc(studyId)}/plots`, after > 0 ? { after } : undefined, ctl.signal);
        if (ctl.signal.aborted) return;
        const raw = JSON.stringify(next);
        if (raw !== last || !plots) plots = mergePlots(plots, next, after); // unchanged: the same object, nothing redrawn
        last = raw;
        after = next.fixed_trials;
        setState((s) => ({ plots, error: undefined, reads: s.reads + 1, after }));
      } catch (error) {
        if (!ctl.signal.aborted) setState((s) => ({ ...s, error }));
      }
      if (live && !ctl.signal.aborted) timer = window.setTimeout(() => void read(), ms);
    };
    void read();
    return () => {
      ctl.abort();
      window.clearTimeout(timer);
    };
    // state is read once per (study, live) change: the loop carries it on itself
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [studyId, live, ms]);
  return state;
}
