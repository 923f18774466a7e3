import { useState } from "react";
import { enc, get } from "../../api/client";
import type { RunSummary } from "../../api/types";
import { Field, Page, WithProject } from "../../components/Page";
import { Async, Empty, StatusBadge } from "../../components/status";
import { useI18n } from "../../i18n";
import { seconds, when } from "../../lib/format";
import { Link } from "../../lib/router";
import { useAsync } from "../../lib/useAsync";

type Row = RunSummary & { started_at?: string | null; duration_s?: number | null; current_step?: string | null };
const STATUSES = ["running", "succeeded", "failed", "cancelled"] as const;

export function RunList() {
  const { t } = useI18n();
  return (
    <Page title={t("runs.title")}>
      <WithProject>{(pid) => <Runs projectId={pid} />}</WithProject>
    </Page>
  );
}

function Runs({ projectId }: { projectId: string }) {
  const { t, lang } = useI18n();
  const [status, setStatus] = useState("");
  const runs = useAsync((s) => get<{ items: Row[] }>("/runs", { project_id: projectId, status: status || undefined, limit: 200 }, s), [projectId, status]);
  return (
    <>
      <div className="filters">
        <Field label={t("runs.status")} htmlFor="runs-status">
          <select id="runs-status" value={status} onChange={(e) => setStatus(e.target.value)}>
            <option value="">{t("common.any")}</option>
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {t(`status.${s}`)}
              </option>
            ))}
          </select>
        </Field>
        <button type="button" onClick={runs.reload}>
          {t("common.refresh")}
        </button>
      </div>
      <Async state={runs}>
        {(data) =>
          data.items.length === 0 ? (
            <Empty>{t("runs.empty")}</Empty>
          ) : (
            <table data-testid="runs">
              <thead>
                <tr>
                  <th scope="col">{t("runs.run")}</th>
                  <th scope="col">{t("runs.workflow")}</th>
                  <th scope="col">{t("runs.status")}</th>
                  <th scope="col">{t("runs.step")}</th>
                  <th scope="col">{t("runs.started")}</th>
                  <th scope="col">{t("runs.duration")}</th>
                </tr>
              </thead>
              <tbody>
                {data.items.map((r) => (
                  <tr key={r.run_id}>
                    <td>
                      <Link to={`/runs/${enc(r.run_id)}`}>
                        <code>{r.run_id}</code>
                      </Link>
                    </td>
                    <td>{r.workflow}</td>
                    <td>
                      <StatusBadge status={r.status} />
                    </td>
                    <td>{r.current_step ?? "–"}</td>
                    <td>{when(r.started_at ?? null, lang)}</td>
                    <td>{seconds(r.duration_s)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )
        }
      </Async>
    </>
  );
}
