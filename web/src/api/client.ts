// The one way the UI talks to the API: same origin, JSON, the signed-in token as a bearer.
// Errors arrive as the API's {"error", "message", "field"} and become ApiError.
import { getToken, signOut } from "../lib/session";

export class ApiError extends Error {
  constructor(
    public status: number,
    public code: string,
    message: string,
    public field: string | null = null,
    public body: unknown = null, // the whole error document (e.g. "violations" of an Invalid)
  ) {
    super(message);
  }
}

type Query = Record<string, string | number | boolean | undefined | null | string[]>;

export function withQuery(path: string, query?: Query): string {
  if (!query) return path;
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v === undefined || v === null || v === "") continue;
    if (Array.isArray(v)) v.forEach((x) => q.append(k, x));
    else q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `${path}?${s}` : path;
}

export async function api<T>(
  method: string,
  path: string,
  opts: { body?: unknown; query?: Query; token?: string | null; signal?: AbortSignal } = {},
): Promise<T> {
  const token = opts.token === undefined ? getToken() : opts.token;
  const headers: Record<string, string> = { Accept: "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (opts.body !== undefined) headers["Content-Type"] = "application/json";
  let res: Response;
  try {
    res = await fetch(withQuery(path, opts.query), {
      method,
      headers,
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
      signal: opts.signal,
    });
  } catch (e) {
    if ((e as Error).name === "AbortError") throw e;
    throw new ApiError(0, "network", (e as Error).message || "network error");
  }
  const text = await res.text();
  let data: unknown = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!res.ok) {
    const d = (data ?? {}) as { error?: string; message?: string; field?: string | null };
    if (res.status === 401 && opts.token === undefined) signOut(); // an expired or revoked token
    throw new ApiError(res.status, d.error ?? "http_error", d.message ?? `HTTP ${res.status}`, d.field ?? null, data);
  }
  return data as T;
}

export const get = <T>(path: string, query?: Query, signal?: AbortSignal) => api<T>("GET", path, { query, signal });
export const post = <T>(path: string, body?: unknown) => api<T>("POST", path, { body: body ?? {} });
export const put = <T>(path: string, body?: unknown) => api<T>("PUT", path, { body: body ?? {} });
export const patch = <T>(path: string, body?: unknown) => api<T>("PATCH", path, { body: body ?? {} });
export const del = <T>(path: string, query?: Query) => api<T>("DELETE", path, { query });
export const enc = encodeURIComponent;

/** Fetch a file with the bearer token and hand it to the browser as a download. */
export async function downloadAuthorized(path: string, filename: string): Promise<void> {
  const token = getToken();
  const res = await fetch(path, { headers: token ? { Authorization: `Bearer ${token}` } : {} });
  if (!res.ok) {
    let d: { error?: string; message?: string; field?: string | null } = {};
    try {
      d = await res.json();
    } catch {
      /* not JSON */
    }
    throw new ApiError(res.status, d.error ?? "http_error", d.message ?? `HTTP ${res.status}`, d.field ?? null);
  }
  const url = URL.createObjectURL(await res.blob());
  const a = document.createElement("a");
  a.href = url;
  a.download = filename;
  document.body.appendChild(a);
  a.click();
  a.remove();
  window.setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
