import { enc, get } from "../../api/client";
import { Page, WithProject } from "../../components/Page";
import { Async, Empty } from "../../components/status";
import { useI18n } from "../../i18n";
import { when } from "../../lib/format";
import { Link } from "../../lib/router";
import { useAsync } from "../../lib/useAsync";

interface PipelineRow {
  pipeline_id: string;
  name: string;
  description: string;
  version: number;
  nodes: number;
  kinds: string[];
  updated: { at: string; by: string };
}

export function PipelineList() {
  const { t } = useI18n();
  return (
    <Page title={t("pipelines.title")} actions={<Link to="/pipelines/new">{t("pipelines.new")}</Link>}>
      <WithProject>{(pid) => <Pipelines projectId={pid} />}</WithProject>
    </Page>
  );
}

function Pipelines({ projectId }: { projectId: string }) {
  const { t, lang } = useI18n();
  const list = useAsync((s) => get<{ items: PipelineRow[] }>(`/projects/${enc(projectId)}/pipelines`, undefined, s), [projectId]);
  return (
    <Async state={list}>
      {(data) =>
        data.items.length === 0 ? (
          <Empty>{t("pipelines.empty")}</Empty>
        ) : (
          <table>
            <thead>
              <tr>
                <th scope="col">{t("pipelines.name")}</th>
                <th scope="col">{t("pipelines.version")}</th>
                <th scope="col">{t("pipelines.nodes")}</th>
                <th scope="col">{t("common.updated")}</th>
              </tr>
            </thead>
            <tbody>
              {data.items.map((p) => (
                <tr key={p.pipeline_id}>
                  <td>
                    <Link to={`/pipelines/${enc(p.pipeline_id)}`}>{p.name}</Link>
                    {p.description && <div className="muted">{p.description}</div>}
                  </td>
                  <td>v{p.version}</td>
                  <td>
                    {p.nodes} <span className="muted">({p.kinds.join(", ")})</span>
                  </td>
                  <td>
                    {when(p.updated.at, lang)} · {p.updated.by}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )
      }
    </Async>
  );
}
