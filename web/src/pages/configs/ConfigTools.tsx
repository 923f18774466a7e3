import { useState, type FormEvent } from "react";
import { enc, post } from "../../api/client";
import type { Config } from "../../api/types";
import { Field } from "../../components/Page";
import { ErrorBox } from "../../components/status";
import { useI18n } from "../../i18n";
import { navigate } from "../../lib/router";

/** Set one dotted key on every chosen config, all or nothing (POST /configs/batch-edit). */
export function BatchEdit({ configIds, onDone }: { configIds: string[]; onDone: () => void }) {
  const { t } = useI18n();
  const [path, setPath] = useState("");
  const [value, setValue] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [done, setDone] = useState<string | null>(null);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    setDone(null);
    let parsed: unknown = value;
    try {
      parsed = JSON.parse(value); // 3, 0.1, true, "text", [..]; anything else is taken as text
    } catch {
      parsed = value;
    }
    try {
      await post("/configs/batch-edit", { config_ids: configIds, set: { [path.trim()]: parsed } });
      setDone(t("configs.batchDone", { n: configIds.length }));
      onDone();
    } catch (err) {
      setError(err);
    }
  };
  return (
    <form className="card inline-form" onSubmit={submit} aria-labelledby="batch-title">
      <h2 id="batch-title">{t("configs.batch")}</h2>
      <p className="muted">{t("configs.batchHelp", { n: configIds.length })}</p>
      <Field label={t("configs.path")} htmlFor="batch-path">
        <input id="batch-path" value={path} onChange={(e) => setPath(e.target.value)} placeholder="training.epochs" required />
      </Field>
      <Field label={t("configs.new")} htmlFor="batch-value">
        <input id="batch-value" value={value} onChange={(e) => setValue(e.target.value)} required />
      </Field>
      <button type="submit" disabled={!configIds.length || !path.trim() || !value}>
        {t("configs.batchApply")}
      </button>
      {done && (
        <p role="status" className="ok">
          {done}
        </p>
      )}
      {error !== null && <ErrorBox error={error} />}
    </form>
  );
}

/** Import a portable tlm.config file (JSON or YAML, as `tlm configs export` writes it). */
export function ImportConfig({ projectId }: { projectId: string }) {
  const { t } = useI18n();
  const [text, setText] = useState("");
  const [error, setError] = useState<unknown>(null);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    try {
      const c = await post<Config>(`/projects/${enc(projectId)}/configs/import`, { file: text });
      navigate(`/configs/${enc(c.config_id)}`);
    } catch (err) {
      setError(err);
    }
  };
  return (
    <form className="card" onSubmit={submit} aria-labelledby="import-title">
      <h2 id="import-title">{t("configs.import")}</h2>
      <div className="field">
        <label htmlFor="import-file">{t("configs.importFile")}</label>
        <input
          id="import-file"
          type="file"
          accept=".json,.yaml,.yml"
          className="file-input"
          onChange={(e) => void e.target.files?.[0]?.text().then(setText)}
        />
        <label htmlFor="import-file" className="file-button">
          {t("upload.choose")}
        </label>
        <label htmlFor="import-text">{t("configs.importText")}</label>
        <textarea id="import-text" rows={5} value={text} onChange={(e) => setText(e.target.value)} />
      </div>
      <button type="submit" disabled={!text.trim()}>
        {t("configs.importButton")}
      </button>
      {error !== null && <ErrorBox error={error} />}
    </form>
  );
}
