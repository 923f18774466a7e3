import { useState, type FormEvent } from "react";
import { api } from "../api/client";
import type { Me } from "../api/types";
import { errorText } from "../components/status";
import { useI18n, type Lang } from "../i18n";
import { setToken } from "../lib/session";

/** Token sign-in: the token is checked against /me before it is kept (sessionStorage only). */
export function SignIn() {
  const { t, lang, setLang } = useI18n();
  const [token, setValue] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const value = token.trim();
    if (!value) {
      setError(t("signIn.required"));
      return;
    }
    setBusy(true);
    setError(null);
    try {
      await api<Me>("GET", "/me", { token: value });
      setToken(value);
    } catch (err) {
      setError(errorText(err, t));
    } finally {
      setBusy(false);
    }
  };
  return (
    <main className="sign-in" id="main">
      <form onSubmit={submit} aria-labelledby="sign-in-title" noValidate>
        <div className="row between">
          <h1 id="sign-in-title">{t("signIn.title")}</h1>
          <select value={lang} onChange={(e) => setLang(e.target.value as Lang)} aria-label={t("app.language")} data-testid="language">
            <option value="zh-CN">中文</option>
            <option value="en">English</option>
          </select>
        </div>
        <p>{t("signIn.help")}</p>
        <ul className="hint">
          <li>
            {t("signIn.local")} <code>.tlm/token</code>
          </li>
          <li>
            {t("signIn.issue")} <code>tlm token &lt;user&gt;</code>
          </li>
        </ul>
        <label htmlFor="token">{t("signIn.token")}</label>
        <input
          id="token"
          name="token"
          type="password"
          autoComplete="off"
          value={token}
          onChange={(e) => setValue(e.target.value)}
          aria-invalid={error ? true : undefined}
          aria-describedby={error ? "sign-in-error" : undefined}
          autoFocus
        />
        {error && (
          <p id="sign-in-error" className="error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" className="primary" disabled={busy}>
          {busy ? t("common.working") : t("signIn.submit")}
        </button>
      </form>
    </main>
  );
}
