// The study's trials (GET /studies/{id}/trials), refreshed every 2 s while it runs; filter by state.
import { useState } from "react";
import { enc, get } from "../../api/client";
import { Async, Empty } from "../../components/status";
import { useI18n, type Key } from "../../i18n";
import { useAsync, useInterval } from "../../lib/useAsync";
import { Params } from "./StudyDetail";
import { formatValue } from "./StudyList";
import type { Trial } from "./types";

const STATES = ["asked", "running", "complete", "pruned", "failed"] as const;

function duration(t: Trial): string {
  if (!t.started_at || !t.ended_at) return "";
  const s = (Date.parse(t.ended_at) - Date.parse(t.started_at)) / 1000;
  return Number.isFinite(s) ? `${s.toFixed(1)} s` : "";
}

export function TrialTable({ studyId, live, objectives }: { studyId: string; live: boolean; objectives: string[] }) {
  const { t } = useI18n();
  const [state, setState] = useState("");
  const trials = useAsync((s) => get<{ items: Trial[] }>(`/studies/${enc(studyId)}/trials`, { state }, s), [studyId, state]);
  useInterval(trials.reload, 2000, live);
  return (
    <section className="card" aria-labelledby="trials-title">
      <div className="row between">
        <h2 id="trials-title">{t("studies.trialTable")}</h2>
        <label className="row">
          {t("studies.stateFilter")}
          <select value={state} onChange={(e) => setState(e.target.value)} data-testid="trial-state">
            <option value="">{t("common.any")}</option>
            {STATES.map((s) => (
              <option key={s} value={s}>
                {t(`studies.state.${s}` as Key)}
              </option>
            ))}
          </select>
        </label>
      </div>
      <Async state={trials}>
        {(d) =>
          d.items.length === 0 ? (
            <Empty>{t("studies.noTrials")}</Empty>
          ) : (
            <div className="scroll">
              <table data-testid="trials">
                <thead>
                  <tr>
                    <th scope="col">#</th>
                    <th scope="col">{t("runs.status")}</th>
                    {objectives.map((o) => (
                      <th key={o} scope="col">
                        {o}
                      </th>
                    ))}
                    <th scope="col">{t("studies.params")}</th>
                    <th scope="col">{t("studies.lastIntermediate")}</th>
                    <th scope="col">{t("studies.duration")}</th>
                    <th scope="col">{t("studies.job")}</th>
                  </tr>
                </thead>
                <tbody>
                  {d.items.map((x) => (
                    <tr key={x.number} data-state={x.state} className={x.feasible === false ? "infeasible" : undefined}>
                      <td>{x.number}</td>
                      <td>
                        <span className={`badge trial-${x.state}`}>{t(`studies.state.${x.state}` as Key)}</span>
                        {x.feasible === false && <span className="muted"> · {t("studies.infeasible")}</span>}
                      </td>
                      {objectives.map((o, i) => (
                        <td key={o}>
                          {x.values?.[i] !== undefined ? formatValue(x.values[i]) : "–"}
                          {x.std?.[i] !== undefined ? ` ± ${formatValue(x.std[i])}` : ""}
                        </td>
                      ))}
                      <td>
                        <Params params={x.params} />
                      </td>
                      <td>
                        {x.last_value !== null && x.last_value !== undefined ? formatValue(x.last_value) : "–"}
                        {x.pruned_step !== null && x.pruned_step !== undefined ? ` @${x.pruned_step}` : ""}
                      </td>
                      <td>{duration(x)}</td>
                      <td>{x.job ? <code>{x.job}</code> : x.reason ? <span className="bad">{x.reason}</span> : ""}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )
        }
      </Async>
    </section>
  );
}
