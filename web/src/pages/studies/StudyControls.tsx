// Steering a study: parallelism and budget (POST /studies/{id}/settings, read at its next round),
// cancel (running trials are stopped, the best so far is kept) and resume (a failed or cancelled one).
import { useState, type FormEvent } from "react";
import { ApiError, enc, post } from "../../api/client";
import { ErrorBox } from "../../components/status";
import { useI18n } from "../../i18n";
import type { Study } from "./types";

type Fields = { parallelism: string; max_trials: string; max_wall_s: string; target: string };

const text = (v: number | null | undefined) => (v === null || v === undefined ? "" : String(v));

export function StudyControls({ study: s, onChange }: { study: Study; onChange: () => void }) {
  const { t } = useI18n();
  const initial: Fields = { parallelism: text(s.parallelism), max_trials: text(s.max_trials), max_wall_s: text(s.max_wall_s), target: text(s.target) };
  const [f, setF] = useState<Fields>(initial);
  const [bad, setBad] = useState<Partial<Record<keyof Fields, string>>>({});
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const running = s.status === "running";
  const resumable = s.status === "failed" || s.status === "cancelled";
  const single = s.directions.length === 1;
  const act = async (fn: () => Promise<unknown>) => {
    setError(null);
    setBusy(true);
    try {
      await fn();
      onChange();
    } catch (e) {
      if (e instanceof ApiError && e.field && e.field in f) setBad({ [e.field]: e.message });
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  const save = (e: FormEvent) => {
    e.preventDefault();
    const body: Record<string, number> = {};
    const errors: typeof bad = {};
    const spent = Object.values(s.counts).reduce((a, b) => a + b, 0);
    (Object.keys(f) as (keyof Fields)[]).forEach((k) => {
      if (f[k].trim() === "" || f[k] === initial[k]) return;
      const n = Number(f[k]);
      if (!Number.isFinite(n)) errors[k] = t("studies.invalid.number");
      else if (k !== "target" && (!Number.isInteger(n) || n < 1)) errors[k] = t("studies.invalid.positive");
      else if (k === "max_trials" && n < spent) errors[k] = t("studies.invalid.budget", { spent });
      else body[k] = n;
    });
    setBad(errors);
    if (Object.keys(errors).length) return;
    if (!Object.keys(body).length) {
      setError(new Error(t("studies.noChange")));
      return;
    }
    void act(() => post(`/studies/${enc(s.study_id)}/settings`, body));
  };
  const input = (k: keyof Fields, label: string, disabled = false) => (
    <div className={`field${bad[k] ? " has-error" : ""}`}>
      <label htmlFor={`study-${k}`}>{label}</label>
      <input
        id={`study-${k}`}
        inputMode="decimal"
        value={f[k]}
        disabled={!running || disabled}
        aria-invalid={bad[k] ? true : undefined}
        aria-describedby={bad[k] ? `study-${k}-error` : undefined}
        onChange={(e) => setF({ ...f, [k]: e.target.value })}
      />
      {bad[k] && (
        <small className="bad" id={`study-${k}-error`}>
          {bad[k]}
        </small>
      )}
    </div>
  );
  return (
    <section className="card" aria-labelledby="controls-title">
      <h2 id="controls-title">{t("studies.controls")}</h2>
      {error !== null && <ErrorBox error={error} />}
      <form className="inline-form" onSubmit={save}>
        {input("parallelism", t("studies.parallelism"))}
        {input("max_trials", t("studies.maxTrials"))}
        {input("max_wall_s", t("studies.maxWall"))}
        {input("target", t("studies.target"), !single)}
        <button type="submit" className="primary" disabled={busy || !running}>
          {t("studies.saveSettings")}
        </button>
        <button type="button" className="danger" disabled={busy || !running} onClick={() => void act(() => post(`/studies/${enc(s.study_id)}/cancel`, { reason: "cancelled in the UI" }))}>
          {t("studies.cancel")}
        </button>
        <button type="button" disabled={busy || !resumable} onClick={() => void act(() => post(`/studies/${enc(s.study_id)}/resume`))}>
          {t("studies.resume")}
        </button>
      </form>
      {!running && <p className="muted">{resumable ? t("studies.canResume") : t("studies.settled")}</p>}
    </section>
  );
}
