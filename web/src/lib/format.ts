export function bytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return "–";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}

export function when(iso: string | null | undefined, lang: string): string {
  if (!iso) return "–";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString(lang);
}

export function seconds(s: number | null | undefined): string {
  if (s === null || s === undefined) return "–";
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${Math.round(s % 60)} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

export function stamp(s: { at?: string | null; by?: string | null } | null | undefined, lang: string): string {
  if (!s) return "–";
  return `${when(s.at ?? null, lang)}${s.by ? ` · ${s.by}` : ""}`;
}

/** Metric lines of the job contract: ``metric: name=value step=N`` (jobs/contract.py). */
export function parseMetrics(lines: string[]): Record<string, { step: number[]; value: number[] }> {
  const out: Record<string, { step: number[]; value: number[] }> = {};
  const re = /metric: ([A-Za-z0-9_.\-/]+)=([-+]?(?:[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?|nan|inf))(?:\s+step=(\d+))?/;
  for (const line of lines) {
    const m = re.exec(line);
    if (!m) continue;
    const v = Number(m[2]);
    if (!Number.isFinite(v)) continue;
    const series = (out[m[1]] ??= { step: [], value: [] });
    series.step.push(m[3] === undefined ? series.step.length : Number(m[3]));
    out[m[1]].value.push(v);
  }
  return out;
}
