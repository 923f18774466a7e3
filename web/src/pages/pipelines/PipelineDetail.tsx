import { useEffect, useState } from "react";
import { enc, get, put } from "../../api/client";
import { Page } from "../../components/Page";
import { Async } from "../../components/status";
import { useI18n } from "../../i18n";
import { useAsync } from "../../lib/useAsync";
import { Editor } from "./Editor";
import type { NodeKind, Pipeline } from "./model";
import { PipelineHistory } from "./PipelineHistory";
import { PipelineRuns } from "./PipelineRuns";

/** One pipeline: the editor on its latest version (or one picked from the history), its
 * versions and their diff, and its runs. */
export function PipelineDetail({ params }: { params: Record<string, string> }) {
  const { t } = useI18n();
  const id = params.pipelineId;
  const [version, setVersion] = useState<number | null>(null); // null: the latest
  const [saved, setSaved] = useState<number | null>(null);
  const [statuses, setStatuses] = useState<Record<string, string> | undefined>(undefined);
  const kinds = useAsync((s) => get<{ items: NodeKind[] }>("/pipeline-kinds", undefined, s), []);
  const pipeline = useAsync((s) => get<Pipeline>(`/pipelines/${enc(id)}`, { version }, s), [id, version]);
  const [historyTick, setHistoryTick] = useState(0);
  // the latest version (what a save must name), also while an older one is open from the history
  const [latest, setLatest] = useState<number | null>(null);
  useEffect(() => {
    if (version === null && pipeline.data) setLatest(pipeline.data.version);
  }, [version, pipeline.data]);
  return (
    <Async state={kinds}>
      {(k) => (
        <Async state={pipeline}>
          {(p) => (
            <Page
              title={
                <>
                  {p.name} <small className="muted">v{p.version}</small>
                </>
              }
            >
              {saved !== null && (
                <p role="status" className="ok" data-testid="saved">
                  {t("pipelines.saved", { version: saved })}
                </p>
              )}
              {p.not_available.length > 0 && <p className="muted">{t("pipelines.unavailableNodes", { nodes: p.not_available.join(", ") })}</p>}
              <Editor
                kinds={k.items}
                doc={p.definition}
                statuses={statuses}
                saveLabel={t("pipelines.save")}
                onSave={async (doc) => {
                  const next = await put<Pipeline>(`/pipelines/${enc(id)}`, { definition: doc, expected_version: latest ?? p.version });
                  setSaved(next.version);
                  setVersion(null);
                  setHistoryTick((n) => n + 1);
                  pipeline.reload();
                }}
              />
              <PipelineRuns pipelineId={id} version={p.version} onStatuses={setStatuses} />
              <PipelineHistory key={historyTick} pipelineId={id} current={p.version} onOpen={(v) => setVersion(v)} />
            </Page>
          )}
        </Async>
      )}
    </Async>
  );
}

