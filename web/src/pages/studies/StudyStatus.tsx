import { useI18n } from "../../i18n";

const KEYS = { running: "status.running", cancelling: "studies.cancelling", finished: "studies.finished", failed: "status.failed", cancelled: "status.cancelled" } as const;
const BADGE: Record<string, string> = { running: "running", cancelling: "running", finished: "succeeded", failed: "failed", cancelled: "cancelled" };

/** A study's status as a badge (finished studies are green, whatever ended them). */
export function StudyStatus({ status }: { status: string }) {
  const { t } = useI18n();
  const key = KEYS[status as keyof typeof KEYS];
  return (
    <span className={`badge badge-${BADGE[status] ?? "unknown"}`} data-testid="study-status" data-status={status}>
      {key ? t(key) : status}
    </span>
  );
}
