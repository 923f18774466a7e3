import { useEffect, useState, type FormEvent } from "react";
import { api } from "../api/client";
import { beginSignIn, finishSignIn, isCallback, keepTokens, loadRuntimeConfig, type CognitoConfig } from "../auth/cognito";
import type { Me } from "../api/types";
import { errorText } from "../components/status";
import { useI18n, type Lang } from "../i18n";
import { BASE, navigate } from "../lib/router";
import { setToken } from "../lib/session";

/** Token sign-in: the token is checked against /me before it is kept (sessionStorage only). When
 * /config.json names Cognito (on AWS), the hosted UI instead (auth/cognito.ts), and back here on its
 * callback: the code is exchanged and the ID token checked against /me the same way. */
export function SignIn() {
  const { t, lang, setLang } = useI18n();
  const [token, setValue] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [cognito, setCognito] = useState<CognitoConfig | null>(null);
  useEffect(() => {
    let live = true;
    void loadRuntimeConfig().then(async ({ auth }) => {
      if (!live || auth.kind !== "cognito") return;
      setCognito(auth);
      if (!isCallback(auth, window.location.href)) return;
      setBusy(true);
      try {
        const { tokens, returnTo } = await finishSignIn(auth, window.location.href);
        await api<Me>("GET", "/me", { token: tokens.idToken });
        navigate(returnTo.slice(BASE.length) || "/", { replace: true }); // the code leaves the address bar
        keepTokens(auth, tokens);
        setToken(tokens.idToken);
      } catch (err) {
        navigate("/", { replace: true });
        if (live) setError(t("signIn.cognitoFailed", { message: errorText(err, t) }));
      } finally {
        if (live) setBusy(false);
      }
    });
    return () => {
      live = false;
    };
  }, [t]);
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
        {cognito && (
          <>
            <p>{t("signIn.cognitoHelp")}</p>
            <button type="button" className="primary" disabled={busy} onClick={() => void beginSignIn(cognito)} data-testid="cognito-sign-in">
              {busy ? t("common.working") : t("signIn.cognito")}
            </button>
            {error && (
              <p id="sign-in-error" className="error" role="alert">
                {error}
              </p>
            )}
          </>
        )}
        {!cognito && tokenFields()}
      </form>
    </main>
  );

  function tokenFields() {
    return (
      <>
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
      </>
    );
  }
}
