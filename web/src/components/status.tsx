// Loading, error and empty states: every page shows one of these instead of a blank.
import type { ReactNode } from "react";
import { ApiError } from "../api/client";
import { useI18n, type Key } from "../i18n";

const STATUS: Record<string, Key> = {
  running: "status.running",
  succeeded: "status.succeeded",
  failed: "status.failed",
  cancelled: "status.cancelled",
  starting: "status.starting",
  pending: "status.pending",
  InProgress: "status.running",
  Completed: "status.succeeded",
  Failed: "status.failed",
  Stopped: "status.cancelled",
  recorded: "status.recorded", // a pipeline node that produced its outputs
  reused: "status.reused", // a pipeline node whose outputs a retry took from an earlier run
};
import type { AsyncState } from "../lib/useAsync";

export function Loading({ label }: { label?: string }) {
  const { t } = useI18n();
  return (
    <div className="loading" role="status" aria-live="polite">
      <span className="spinner" aria-hidden="true" />
      {label ?? t("common.loading")}
    </div>
  );
}

export function errorText(error: unknown, t: ReturnType<typeof useI18n>["t"]): string {
  if (error instanceof ApiError) {
    if (error.status === 0) return t("error.network");
    const where = error.field ? ` (${t("error.field")}: ${error.field})` : "";
    return `${error.message}${where}`;
  }
  return error instanceof Error ? error.message : String(error);
}

export function ErrorBox({ error, onRetry }: { error: unknown; onRetry?: () => void }) {
  const { t } = useI18n();
  const status = error instanceof ApiError ? error.status : null;
  return (
    <div className="error" role="alert">
      <strong>
        {status === 403 ? t("error.forbidden") : status === 404 ? t("error.notFound") : t("error.title")}
      </strong>{" "}
      <span>{errorText(error, t)}</span>
      {onRetry && (
        <button type="button" className="link" onClick={onRetry}>
          {t("common.retry")}
        </button>
      )}
    </div>
  );
}

export function Empty({ children }: { children?: ReactNode }) {
  const { t } = useI18n();
  return <p className="empty">{children ?? t("common.empty")}</p>;
}

/** Loading until the first answer, then the content (kept while a reload runs), or the error. */
export function Async<T>({ state, children }: { state: AsyncState<T>; children: (data: T) => ReactNode }) {
  if (state.error !== undefined && state.data === undefined) return <ErrorBox error={state.error} onRetry={state.reload} />;
  if (state.data === undefined) return <Loading />;
  return (
    <>
      {state.error !== undefined && <ErrorBox error={state.error} onRetry={state.reload} />}
      {children(state.data)}
    </>
  );
}

export function StatusBadge({ status }: { status: string | null | undefined }) {
  const { t } = useI18n();
  const s = status ?? "unknown";
  const key = STATUS[s];
  return <span className={`badge badge-${s.replace(/[^a-z]/gi, "")}`}>{key ? t(key) : s}</span>;
}
