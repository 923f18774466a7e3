import { enc, get, post } from "../../api/client";
import { Page, WithProject } from "../../components/Page";
import { Async } from "../../components/status";
import { useI18n } from "../../i18n";
import { navigate } from "../../lib/router";
import { useAsync } from "../../lib/useAsync";
import { Editor } from "./Editor";
import type { NodeKind, Pipeline } from "./model";

/** A new pipeline: an empty canvas; the first save creates it (version 1). */
export function PipelineNew() {
  const { t } = useI18n();
  const kinds = useAsync((s) => get<{ items: NodeKind[] }>("/pipeline-kinds", undefined, s), []);
  return (
    <Page title={t("pipelines.new")}>
      <WithProject>
        {(pid) => (
          <Async state={kinds}>
            {(k) => (
              <Editor
                kinds={k.items}
                doc={null}
                saveLabel={t("pipelines.create")}
                onSave={async (doc) => {
                  const p = await post<Pipeline>(`/projects/${enc(pid)}/pipelines`, { definition: doc });
                  navigate(`/pipelines/${enc(p.pipeline_id)}`);
                }}
              />
            )}
          </Async>
        )}
      </WithProject>
    </Page>
  );
}
