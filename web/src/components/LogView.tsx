import { useEffect, useRef, useState } from "react";
import type { LogPage } from "../api/types";
import { useI18n } from "../i18n";
import { useInterval } from "../lib/useAsync";
import { ErrorBox } from "./status";

/** A log followed by polling from the last line seen (``start`` = the previous ``next``). */
export function LogView({ title, fetchPage, live, onLines }: { title: string; fetchPage: (start: number) => Promise<LogPage>; live: boolean; onLines?: (lines: string[]) => void }) {
  const { t } = useI18n();
  const [lines, setLines] = useState<string[]>([]);
  const [error, setError] = useState<unknown>(null);
  const next = useRef(0);
  const busy = useRef(false);
  const box = useRef<HTMLPreElement>(null);
  const pull = async () => {
    if (busy.current) return;
    busy.current = true;
    try {
      const page = await fetchPage(next.current);
      next.current = page.next;
      if (page.lines.length) {
        setLines((l) => {
          const all = [...l, ...page.lines];
          onLines?.(all);
          return all;
        });
      }
      setError(null);
    } catch (err) {
      setError(err);
    } finally {
      busy.current = false;
    }
  };
  useEffect(() => {
    void pull();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);
  useInterval(() => void pull(), 1500, live);
  useEffect(() => {
    const el = box.current;
    if (el && el.scrollHeight - el.scrollTop - el.clientHeight < 80) el.scrollTop = el.scrollHeight;
  }, [lines]);
  return (
    <section className="log" aria-label={title}>
      <h3>{title}</h3>
      {error !== null && <ErrorBox error={error} />}
      <pre ref={box} tabIndex={0} data-testid="log" aria-live={live ? "polite" : "off"}>
        {lines.length ? lines.join("\n") : t("log.empty")}
      </pre>
    </section>
  );
}
