// The release center's entry: the project's deployments and its models (each to its versions).
import { enc, get } from "../../api/client";
import type { ModelPage } from "../../api/types";
import { Page, WithProject } from "../../components/Page";
import { Async, Empty, StatusBadge } from "../../components/status";
import { useI18n } from "../../i18n";
import { Link } from "../../lib/router";
import { useAsync } from "../../lib/useAsync";
import "./releases.css";
import { TrafficBar } from "./TrafficBar";
import type { Deployment } from "./types";

export function ReleaseCenter() {
  const { t } = useI18n();
  return (
    <Page title={t("releases.title")}>
      <WithProject>{(pid) => <Center projectId={pid} />}</WithProject>
    </Page>
  );
}

function Center({ projectId }: { projectId: string }) {
  const { t } = useI18n();
  const deployments = useAsync((s) => get<{ items: Deployment[] }>(`/projects/${enc(projectId)}/deployments`, undefined, s), [projectId]);
  const models = useAsync((s) => get<ModelPage>("/models", { project_id: projectId, limit: 100 }, s), [projectId]);
  return (
    <>
      <section className="card" aria-labelledby="deployments-title">
        <h2 id="deployments-title">{t("releases.deployments")}</h2>
        <Async state={deployments}>
          {(d) =>
            d.items.length === 0 ? (
              <Empty>{t("releases.noDeployments")}</Empty>
            ) : (
              <table>
                <thead>
                  <tr>
                    <th scope="col">{t("releases.name")}</th>
                    <th scope="col">{t("runs.status")}</th>
                    <th scope="col">{t("releases.primaryVersion")}</th>
                    <th scope="col">{t("releases.traffic")}</th>
                  </tr>
                </thead>
                <tbody>
                  {d.items.map((x) => (
                    <tr key={x.deployment_id}>
                      <td>
                        <Link to={`/deployments/${enc(x.deployment_id)}`}>{x.name || x.deployment_id}</Link>
                      </td>
                      <td>
                        <StatusBadge status={x.status} />
                      </td>
                      <td>{x.primary_version ?? "–"}</td>
                      <td>
                        <TrafficBar deployment={x} />
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )
          }
        </Async>
      </section>
      <section className="card" aria-labelledby="models-title">
        <h2 id="models-title">{t("releases.models")}</h2>
        <Async state={models}>
          {(m) =>
            m.items.length === 0 ? (
              <Empty>{t("releases.noModels")}</Empty>
            ) : (
              <ul>
                {m.items.map((x) => (
                  <li key={x.model_id}>
                    <Link to={`/releases/models/${enc(x.model_id)}`}>{x.name}</Link> <span className="muted">{x.model_id}</span>
                  </li>
                ))}
              </ul>
            )
          }
        </Async>
      </section>
    </>
  );
}
