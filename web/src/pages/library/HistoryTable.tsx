import type { HistoryEntry } from "../../api/types";
import { Empty } from "../../components/status";
import { useI18n } from "../../i18n";
import { when } from "../../lib/format";

/** A stream's events, newest first: who did what, when, why (the log is the history). */
export function HistoryTable({ items }: { items: HistoryEntry[] }) {
  const { t, lang } = useI18n();
  if (!items.length) return <Empty />;
  return (
    <table className="history">
      <thead>
        <tr>
          <th scope="col">{t("common.version")}</th>
          <th scope="col">{t("history.event")}</th>
          <th scope="col">{t("history.actor")}</th>
          <th scope="col">{t("history.when")}</th>
          <th scope="col">{t("history.details")}</th>
        </tr>
      </thead>
      <tbody>
        {[...items].reverse().map((e) => {
          // models' history says "at", configs' "occurred_at" (fields beyond the declared HistoryEntry)
          const x = e as { at?: string; occurred_at?: string };
          const at = x.occurred_at ?? x.at;
          return (
            <tr key={e.version}>
              <td>{e.version}</td>
              <td>
                <code>{e.type}</code>
              </td>
              <td>{e.actor ?? "–"}</td>
              <td>{when(at ?? null, lang)}</td>
              <td className="details">
                {e.reason && <div>{e.reason}</div>}
                <code>{JSON.stringify(e.data).slice(0, 200)}</code>
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}
