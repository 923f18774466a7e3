// The project's studies (GET /projects/{id}/studies), newest first, refreshed while one runs.
import { enc, get } from "../../api/client";
import { Page, WithProject } from "../../components/Page";
import { Async, Empty } from "../../components/status";
import { useI18n } from "../../i18n";
import { Link } from "../../lib/router";
import { useAsync, useInterval } from "../../lib/useAsync";
import { StudyStatus } from "./StudyStatus";
import "./studies.css";
import type { StudyItem } from "./types";

export function StudyList() {
  const { t } = useI18n();
  return (
    <Page title={t("studies.title")}>
      <WithProject>{(pid) => <List projectId={pid} />}</WithProject>
    </Page>
  );
}

const fmt = (v: number) => (Math.abs(v) >= 1000 || (Math.abs(v) < 0.001 && v !== 0) ? v.toExponential(3) : String(Math.round(v * 10000) / 10000));

function List({ projectId }: { projectId: string }) {
  const { t } = useI18n();
  const list = useAsync((s) => get<{ items: StudyItem[] }>(`/projects/${enc(projectId)}/studies`, undefined, s), [projectId]);
  useInterval(list.reload, 3000, !!list.data?.items.some((x) => x.status === "running" || x.status === "cancelling"));
  return (
    <Async state={list}>
      {(d) =>
        d.items.length === 0 ? (
          <Empty>{t("studies.none")}</Empty>
        ) : (
          <table data-testid="studies">
            <thead>
              <tr>
                <th scope="col">{t("studies.name")}</th>
                <th scope="col">{t("studies.strategy")}</th>
                <th scope="col">{t("runs.status")}</th>
                <th scope="col">{t("studies.trials")}</th>
                <th scope="col">{t("studies.best")}</th>
                <th scope="col">{t("common.created")}</th>
              </tr>
            </thead>
            <tbody>
              {d.items.map((x) => (
                <tr key={x.study_id}>
                  <td>
                    <Link to={`/studies/${enc(x.study_id)}`}>{x.name}</Link> <span className="muted">{x.study_id}</span>
                  </td>
                  <td>{x.strategy ?? ""}</td>
                  <td>
                    <StudyStatus status={x.status} />
                  </td>
                  <td>
                    <Counts counts={x.counts} />
                  </td>
                  <td>{x.best_value ? x.best_value.map(fmt).join(" / ") : "–"}</td>
                  <td>{x.created_at ? new Date(x.created_at).toLocaleString() : ""}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )
      }
    </Async>
  );
}

export function Counts({ counts }: { counts: Record<string, number> }) {
  const { t } = useI18n();
  const keys = ["complete", "running", "pruned", "failed", "asked"] as const;
  return (
    <span className="counts">
      {keys
        .filter((k) => counts[k])
        .map((k) => (
          <span key={k} className={`count count-${k}`}>
            {t(`studies.state.${k}`)} {counts[k]}
          </span>
        ))}
    </span>
  );
}

export { fmt as formatValue };
