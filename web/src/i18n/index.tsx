// zh-CN (the default) and English. Keys are the zh-CN dictionary's; the English one must have
// exactly the same keys (a missing or extra one fails `tsc`), and t() accepts only known keys.
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from "react";
import { en } from "./en";
import { zh, type Key } from "./zh-CN";

export type Lang = "zh-CN" | "en";
export type { Key };
const DICTS: Record<Lang, Record<Key, string>> = { "zh-CN": zh, en };
const STORE = "tlm.lang"; // a preference, not a secret: localStorage is fine

type Vars = Record<string, string | number>;
export type T = (key: Key, vars?: Vars) => string;

interface I18n {
  lang: Lang;
  setLang: (l: Lang) => void;
  t: T;
}

function initial(): Lang {
  try {
    const saved = localStorage.getItem(STORE);
    if (saved === "en" || saved === "zh-CN") return saved;
  } catch {
    /* storage refused: the default */
  }
  return "zh-CN";
}

export function translate(lang: Lang, key: Key, vars?: Vars): string {
  let s = DICTS[lang][key];
  if (vars) for (const [k, v] of Object.entries(vars)) s = s.split(`{${k}}`).join(String(v));
  return s;
}

const Ctx = createContext<I18n>({ lang: "zh-CN", setLang: () => {}, t: (k, v) => translate("zh-CN", k, v) });

export function I18nProvider({ children }: { children: ReactNode }) {
  const [lang, setLangState] = useState<Lang>(initial);
  useEffect(() => {
    document.documentElement.lang = lang;
    document.title = translate(lang, "app.title");
  }, [lang]);
  const setLang = useCallback((l: Lang) => {
    setLangState(l);
    try {
      localStorage.setItem(STORE, l);
    } catch {
      /* not remembered */
    }
  }, []);
  const t = useCallback<T>((k, v) => translate(lang, k, v), [lang]);
  const value = useMemo(() => ({ lang, setLang, t }), [lang, setLang, t]);
  return <Ctx.Provider value={value}>{children}</Ctx.Provider>;
}

export const useI18n = () => useContext(Ctx);
