import { useRef, useState } from "react";
import { del, enc, get } from "../../api/client";
import type { History, Model, UploadList } from "../../api/types";
import { uploadFile, type Progress } from "../../api/upload";
import { Page } from "../../components/Page";
import { ProgressBar } from "../../components/ProgressBar";
import { Async, Empty, ErrorBox } from "../../components/status";
import { useI18n } from "../../i18n";
import { bytes } from "../../lib/format";
import { useAsync } from "../../lib/useAsync";
import { HistoryTable } from "./HistoryTable";

export function ModelDetail({ params }: { params: Record<string, string> }) {
  const { t } = useI18n();
  const id = params.modelId;
  const model = useAsync((s) => get<Model & { metrics?: Record<string, unknown> | null }>(`/models/${enc(id)}`, undefined, s), [id]);
  const history = useAsync((s) => get<History>(`/models/${enc(id)}/history`, undefined, s), [id]);
  const uploads = useAsync((s) => get<UploadList>(`/models/${enc(id)}/uploads`, undefined, s), [id]);
  const refresh = () => {
    model.reload();
    history.reload();
    uploads.reload();
  };
  return (
    <Async state={model}>
      {(m) => (
        <Page title={m.name}>
          <dl className="facts">
            <dt>{t("common.id")}</dt>
            <dd>
              <code>{m.model_id}</code>
            </dd>
            <dt>{t("library.family")}</dt>
            <dd>{m.family}</dd>
            <dt>{t("library.kind")}</dt>
            <dd>{m.kind === "dataset" ? t("library.kindDataset") : t("library.kindModel")}</dd>
            <dt>{t("library.tags")}</dt>
            <dd>{m.tags.map((x) => <span key={x} className="tag">{x}</span>)}</dd>
            {m.description && (
              <>
                <dt>{t("library.description")}</dt>
                <dd>{m.description}</dd>
              </>
            )}
            {m.source && (
              <>
                <dt>{t("library.source")}</dt>
                <dd>{m.source}</dd>
              </>
            )}
            <dt>{t("common.version")}</dt>
            <dd>{m.version}</dd>
          </dl>
          <Files model={m} onChange={refresh} />
          <Uploader modelId={m.model_id} onDone={refresh} />
          <Async state={uploads}>
            {(u) => {
              const open = u.items.filter((x) => x.state === "open");
              return open.length === 0 ? null : (
                <section className="card" aria-labelledby="open-uploads">
                  <h2 id="open-uploads">{t("upload.open")}</h2>
                  <p className="muted">{t("upload.openHelp")}</p>
                  <table>
                    <tbody>
                      {open.map((x) => (
                        <tr key={x.upload_id}>
                          <td>{x.path}</td>
                          <td>{bytes(x.size)}</td>
                          <td>{t("upload.parts", { done: x.uploaded_parts.length, total: x.part_count })}</td>
                          <td>
                            <button type="button" className="danger" onClick={() => void del(`/models/${enc(m.model_id)}/uploads/${enc(x.upload_id)}`).then(refresh)}>
                              {t("upload.abort")}
                            </button>
                          </td>
                        </tr>
                      ))}
                    </tbody>
                  </table>
                </section>
              );
            }}
          </Async>
          <section className="card" aria-labelledby="history-title">
            <h2 id="history-title">{t("common.history")}</h2>
            <Async state={history}>{(h) => <HistoryTable items={h.items} />}</Async>
          </section>
        </Page>
      )}
    </Async>
  );
}

function Files({ model, onChange }: { model: Model; onChange: () => void }) {
  const { t } = useI18n();
  const [error, setError] = useState<unknown>(null);
  void onChange;
  const download = async (path: string) => {
    setError(null);
    try {
      const info = await get<{ url: string }>(`/models/${enc(model.model_id)}/download`, { path });
      const a = document.createElement("a");
      a.href = info.url; // a signed, short-lived URL for this file only
      a.download = path.split("/").pop() ?? path;
      document.body.appendChild(a);
      a.click();
      a.remove();
    } catch (err) {
      setError(err);
    }
  };
  return (
    <section className="card" aria-labelledby="files-title">
      <h2 id="files-title">{t("library.files")}</h2>
      {model.files.length === 0 ? (
        <Empty>{t("library.noFiles")}</Empty>
      ) : (
        <table data-testid="files">
          <thead>
            <tr>
              <th scope="col">{t("library.path")}</th>
              <th scope="col">{t("library.size")}</th>
              <th scope="col">sha256</th>
              <th scope="col">
                <span className="sr-only">{t("common.actions")}</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {model.files.map((f) => (
              <tr key={f.path}>
                <td>{f.path}</td>
                <td>{bytes(f.size)}</td>
                <td>
                  <code title={f.sha256}>{f.sha256.slice(0, 12)}…</code>
                </td>
                <td>
                  <button type="button" onClick={() => void download(f.path)}>
                    {t("library.download")}
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {error !== null && <ErrorBox error={error} />}
    </section>
  );
}

function Uploader({ modelId, onDone }: { modelId: string; onDone: () => void }) {
  const { t } = useI18n();
  const input = useRef<HTMLInputElement>(null);
  const [file, setFile] = useState<File | null>(null);
  const [path, setPath] = useState("");
  const [progress, setProgress] = useState<Progress | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [result, setResult] = useState<string | null>(null);
  const ctl = useRef<AbortController | null>(null);
  const busy = progress !== null && progress.phase !== "done" && ctl.current !== null;
  const start = async () => {
    if (!file) return;
    ctl.current = new AbortController();
    setError(null);
    setResult(null);
    try {
      const out = await uploadFile(modelId, file, { path: path.trim() || file.name, signal: ctl.current.signal, onProgress: setProgress });
      setResult(out.resumed ? t("upload.doneResumed") : t("upload.done"));
      onDone();
    } catch (err) {
      if ((err as Error).name === "AbortError") setResult(t("upload.stopped"));
      else setError(err);
      onDone();
    } finally {
      ctl.current = null;
      setProgress((p) => (p && p.phase !== "done" ? { ...p } : p));
    }
  };
  const phase = progress ? t(`upload.phase.${progress.phase}`) : "";
  return (
    <section className="card" aria-labelledby="upload-title">
      <h2 id="upload-title">{t("upload.title")}</h2>
      <div className="inline-form">
        <div className="field">
          <span className="label">{t("upload.file")}</span>
          {/* the native control's own text follows the browser's language, not the app's: it is
              hidden (still focusable) behind a translated button */}
          <input
            id="upload-file"
            className="file-input"
            ref={input}
            type="file"
            disabled={busy}
            onChange={(e) => {
              const f = e.target.files?.[0] ?? null;
              setFile(f);
              setPath(f?.name ?? "");
              setProgress(null);
              setResult(null);
            }}
          />
          <label htmlFor="upload-file" className="file-button">
            {t("upload.choose")} <span className="muted">{file ? file.name : t("upload.noFile")}</span>
          </label>
        </div>
        <div className="field">
          <label htmlFor="upload-path">{t("upload.path")}</label>
          <input id="upload-path" value={path} onChange={(e) => setPath(e.target.value)} disabled={busy} />
        </div>
        {busy ? (
          <button type="button" onClick={() => ctl.current?.abort()}>
            {t("upload.stop")}
          </button>
        ) : (
          <button type="button" className="primary" disabled={!file} onClick={() => void start()}>
            {t("upload.start")}
          </button>
        )}
      </div>
      {progress && (
        <ProgressBar
          value={progress.phase === "hashing" ? null : progress.sent}
          max={Math.max(1, progress.total)}
          label={t("upload.progress")}
          text={`${phase} · ${bytes(progress.sent)} / ${bytes(progress.total)}${progress.resumed ? ` · ${t("upload.resumedNote")}` : ""}`}
        />
      )}
      {result && (
        <p role="status" className="ok">
          {result}
        </p>
      )}
      {error !== null && <ErrorBox error={error} />}
    </section>
  );
}
