// The signed-in token lives in sessionStorage: it is gone when the tab closes and is never
// written anywhere else (not a cookie, not localStorage, not the URL).
const KEY = "tlm.token";
type Listener = () => void;
const listeners = new Set<Listener>();

export function getToken(): string | null {
  try {
    return sessionStorage.getItem(KEY);
  } catch {
    return null;
  }
}

export function setToken(token: string): void {
  sessionStorage.setItem(KEY, token);
  listeners.forEach((l) => l());
}

export function signOut(): void {
  sessionStorage.removeItem(KEY);
  listeners.forEach((l) => l());
}

export function onSessionChange(l: Listener): () => void {
  listeners.add(l);
  return () => listeners.delete(l);
}

/** A new credential for the same signed-in user (a refreshed token): stored, nobody notified. */
export function replaceToken(token: string): void {
  sessionStorage.setItem(KEY, token);
}
