import { useI18n } from "../../i18n";
import type { Deployment } from "./types";

/** The traffic split between a deployment's slots as one bar (each slot: its version, its share). */
export function TrafficBar({ deployment }: { deployment: Deployment }) {
  const { t } = useI18n();
  const entries = Object.entries(deployment.weights).filter(([, w]) => w > 0);
  if (entries.length === 0) return <span className="muted">{t("releases.noTraffic")}</span>;
  return (
    <div className="traffic" role="img" aria-label={entries.map(([s, w]) => `${s} ${w}%`).join(", ")} data-testid="traffic">
      {entries.map(([slot, w]) => {
        const version = (deployment.slots[slot] as { version_id?: string } | undefined)?.version_id ?? "";
        return (
          <div key={slot} className={`traffic-slot traffic-${slot}`} style={{ width: `${w}%` }} title={`${slot}: ${version} ${w}%`}>
            {slot} {w}%
          </div>
        );
      })}
    </div>
  );
}
