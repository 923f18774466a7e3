// Sign-in through Cognito's hosted UI (on AWS), when /config.json says so: authorization code grant
// with PKCE (S256), tokens in sessionStorage only, the ID token refreshed a minute before it expires,
// sign-out through the hosted UI's /logout. Locally /config.json says "token" and none of this runs.
//
// The first half is pure (PKCE, URLs, token requests: unit-tested from pytest through node); the
// second half holds the effects (sessionStorage, timers, redirects).
import { getToken, onSessionChange, replaceToken, signOut } from "../lib/session";

export interface CognitoConfig {
  kind: "cognito";
  region?: string;
  userPoolId: string;
  clientId: string;
  domain: string; // the hosted UI's base URL, https://<prefix>.auth.<region>.amazoncognito.com
  redirectUri: string; // https://<site>/ui/auth/callback (the app client's callback URL)
  logoutUri: string; // https://<site>/ui/ (the app client's sign-out URL)
  scopes: string[];
}
export type AuthConfig = { kind: "token" } | CognitoConfig;
export interface RuntimeConfig {
  apiUrl?: string; // the API's public base URL (on AWS the site itself: CloudFront serves both)
  auth: AuthConfig;
}
export interface Tokens {
  idToken: string; // what the API's Cognito authorizer reads
  refreshToken: string | null;
  expiresAt: number; // ms since the epoch
}
export interface TokenRequest {
  url: string;
  init: { method: "POST"; headers: Record<string, string>; body: string };
}

// ------------------------------------------------------------------ pure

export function base64url(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** A PKCE code verifier (RFC 7636 4.1): 32 random bytes, base64url, 43 characters. */
export function randomVerifier(random: (a: Uint8Array) => Uint8Array = (a) => crypto.getRandomValues(a)): string {
  return base64url(random(new Uint8Array(32)));
}

/** The S256 code challenge of a verifier: base64url(sha256(ascii(verifier))). */
export async function challengeFor(verifier: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  return base64url(new Uint8Array(digest));
}

const trim = (domain: string) => domain.replace(/\/+$/, "");

export function authorizeUrl(cfg: CognitoConfig, p: { state: string; challenge: string }): string {
  const q = new URLSearchParams({
    response_type: "code",
    client_id: cfg.clientId,
    redirect_uri: cfg.redirectUri,
    scope: cfg.scopes.join(" "),
    state: p.state,
    code_challenge: p.challenge,
    code_challenge_method: "S256",
  });
  return `${trim(cfg.domain)}/oauth2/authorize?${q}`;
}

function form(url: string, fields: Record<string, string>): TokenRequest {
  return {
    url,
    init: {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams(fields).toString(),
    },
  };
}

/** The code exchange (a public client: no secret, the verifier proves it started the sign-in). */
export function tokenRequest(cfg: CognitoConfig, p: { code: string; verifier: string }): TokenRequest {
  return form(`${trim(cfg.domain)}/oauth2/token`, {
    grant_type: "authorization_code",
    client_id: cfg.clientId,
    code: p.code,
    redirect_uri: cfg.redirectUri,
    code_verifier: p.verifier,
  });
}

export function refreshRequest(cfg: CognitoConfig, refreshToken: string): TokenRequest {
  return form(`${trim(cfg.domain)}/oauth2/token`, {
    grant_type: "refresh_token",
    client_id: cfg.clientId,
    refresh_token: refreshToken,
  });
}

export function revokeRequest(cfg: CognitoConfig, refreshToken: string): TokenRequest {
  return form(`${trim(cfg.domain)}/oauth2/revoke`, { token: refreshToken, client_id: cfg.clientId });
}

export function logoutUrl(cfg: CognitoConfig): string {
  const q = new URLSearchParams({ client_id: cfg.clientId, logout_uri: cfg.logoutUri });
  return `${trim(cfg.domain)}/logout?${q}`;
}

/** A token endpoint answer; a refresh answer has no refresh_token: the previous one stays. */
export function parseTokens(body: unknown, now: number, previousRefresh: string | null = null): Tokens {
  const b = (body ?? {}) as { id_token?: unknown; refresh_token?: unknown; expires_in?: unknown };
  if (typeof b.id_token !== "string" || !b.id_token) throw new Error("the token endpoint sent no id_token");
  const seconds = typeof b.expires_in === "number" && b.expires_in > 0 ? b.expires_in : 3600;
  return {
    idToken: b.id_token,
    refreshToken: typeof b.refresh_token === "string" ? b.refresh_token : previousRefresh,
    expiresAt: now + seconds * 1000,
  };
}

/** How long to wait before refreshing: a minute before expiry (never negative). */
export function refreshDelay(expiresAt: number, now: number, marginMs = 60_000): number {
  return Math.max(0, expiresAt - marginMs - now);
}

export function isCallback(cfg: CognitoConfig, href: string): boolean {
  const url = new URL(href);
  return url.pathname === new URL(cfg.redirectUri).pathname && (url.searchParams.has("code") || url.searchParams.has("error"));
}

// ------------------------------------------------------------------ effects

const PKCE = "tlm.cognito.pkce"; // {verifier, state, returnTo} between the redirect and the callback
const TOKENS = "tlm.cognito.tokens"; // {refreshToken, expiresAt} while signed in
let configPromise: Promise<RuntimeConfig> | null = null;
let timer: number | undefined;
let exchanging: Promise<{ tokens: Tokens; returnTo: string }> | null = null;

/** /config.json, read once (locally: token sign-in; a missing or broken file means the same). */
export function loadRuntimeConfig(): Promise<RuntimeConfig> {
  configPromise ??= fetch("/config.json", { headers: { Accept: "application/json" } })
    .then((r) => (r.ok ? r.json() : null))
    .then((c: RuntimeConfig | null) => (c && c.auth && c.auth.kind === "cognito" ? c : { ...(c ?? {}), auth: { kind: "token" as const } }))
    .catch(() => ({ auth: { kind: "token" as const } }));
  return configPromise;
}

async function post(req: TokenRequest): Promise<unknown> {
  const res = await fetch(req.url, req.init);
  const body = await res.json().catch(() => null);
  if (!res.ok) {
    const e = (body ?? {}) as { error?: string; error_description?: string };
    throw new Error(e.error_description || e.error || `HTTP ${res.status}`);
  }
  return body;
}

/** Start a sign-in: keep the PKCE verifier and a state in this tab, go to the hosted UI. */
export async function beginSignIn(cfg: CognitoConfig): Promise<void> {
  const verifier = randomVerifier();
  const state = randomVerifier();
  const here = window.location.pathname + window.location.search;
  const returnTo = here.startsWith("/ui") && !isCallback(cfg, window.location.href) ? here : "/ui/";
  sessionStorage.setItem(PKCE, JSON.stringify({ verifier, state, returnTo }));
  window.location.assign(authorizeUrl(cfg, { state, challenge: await challengeFor(verifier) }));
}

/** On the callback URL: check the state, exchange the code (once), return the tokens and where to go. */
export function finishSignIn(cfg: CognitoConfig, href: string): Promise<{ tokens: Tokens; returnTo: string }> {
  exchanging ??= (async () => {
    const q = new URL(href).searchParams;
    const saved = JSON.parse(sessionStorage.getItem(PKCE) ?? "null") as { verifier: string; state: string; returnTo: string } | null;
    sessionStorage.removeItem(PKCE);
    if (q.has("error")) throw new Error(q.get("error_description") || q.get("error") || "sign-in refused");
    if (!saved || !q.get("state") || q.get("state") !== saved.state) throw new Error("this sign-in was not started in this tab (state mismatch)");
    const body = await post(tokenRequest(cfg, { code: q.get("code") ?? "", verifier: saved.verifier }));
    return { tokens: parseTokens(body, Date.now()), returnTo: saved.returnTo };
  })();
  exchanging.finally(() => (exchanging = null)).catch(() => {});
  return exchanging;
}

function readTokens(): Tokens | null {
  try {
    return JSON.parse(sessionStorage.getItem(TOKENS) ?? "null") as Tokens | null;
  } catch {
    return null;
  }
}

/** Keep the tokens (the ID token itself is the session's token: lib/session) and plan the refresh. */
export function keepTokens(cfg: CognitoConfig, tokens: Tokens): void {
  sessionStorage.setItem(TOKENS, JSON.stringify({ ...tokens, idToken: "" }));
  scheduleRefresh(cfg);
}

function scheduleRefresh(cfg: CognitoConfig): void {
  window.clearTimeout(timer);
  const t = readTokens();
  if (!t || !t.refreshToken) return;
  timer = window.setTimeout(async () => {
    try {
      const next = parseTokens(await post(refreshRequest(cfg, t.refreshToken!)), Date.now(), t.refreshToken);
      replaceToken(next.idToken); // same user, new credential: the pages stay as they are
      keepTokens(cfg, next);
    } catch {
      if (Date.now() < t.expiresAt) timer = window.setTimeout(() => scheduleRefresh(cfg), 30_000);
      else signOut(); // refresh refused and the token expired: sign in again
    }
  }, refreshDelay(t.expiresAt, Date.now()));
}

/** At start: resume the refresh of a signed-in tab; on sign-out, revoke and leave through /logout. */
export async function startCognitoSession(): Promise<void> {
  const { auth } = await loadRuntimeConfig();
  if (auth.kind !== "cognito") return;
  if (getToken()) scheduleRefresh(auth);
  onSessionChange(() => {
    const t = readTokens();
    if (getToken() || !t) return;
    window.clearTimeout(timer);
    sessionStorage.removeItem(TOKENS);
    const revoked = t.refreshToken
      ? (() => {
          const r = revokeRequest(auth, t.refreshToken);
          return fetch(r.url, { ...r.init, signal: AbortSignal.timeout(3000) }).catch(() => undefined);
        })()
      : Promise.resolve(undefined);
    void revoked.then(() => window.location.assign(logoutUrl(auth)));
  });
}
