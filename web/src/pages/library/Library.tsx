import { useEffect, useState, type FormEvent } from "react";
import { get, post } from "../../api/client";
import type { Model, ModelPage } from "../../api/types";
import { Field, Page } from "../../components/Page";
import { Async, Empty, ErrorBox } from "../../components/status";
import { useI18n } from "../../i18n";
import { bytes, stamp } from "../../lib/format";
import { useProject } from "../../lib/project";
import { Link, navigate } from "../../lib/router";
import { useAsync } from "../../lib/useAsync";

export const FAMILIES = ["bert", "roberta", "albert", "electra", "xlnet", "other"] as const;
const SORTS = ["-updated", "updated", "name", "-name", "-created", "created"] as const;

/** The model library: search (Chinese words, pinyin, initials — the API's search), filters, register. */
export function Library() {
  const { t, lang } = useI18n();
  const { projectId } = useProject();
  const [q, setQ] = useState("");
  const [debounced, setDebounced] = useState("");
  const [scope, setScope] = useState<"project" | "all">("project");
  const [family, setFamily] = useState("");
  const [tag, setTag] = useState("");
  const [kind, setKind] = useState<"model" | "dataset" | "all">("model");
  const [sort, setSort] = useState<(typeof SORTS)[number]>("-updated");
  useEffect(() => {
    const id = window.setTimeout(() => setDebounced(q.trim()), 250);
    return () => window.clearTimeout(id);
  }, [q]);
  const query = {
    q: debounced,
    project_id: scope === "project" ? projectId : undefined,
    family: family ? [family] : undefined,
    tag: tag.trim() ? tag.trim().split(/[,，\s]+/) : undefined,
    kind,
    sort,
    limit: 100,
  };
  const page = useAsync((s) => get<ModelPage>("/models", query, s), [JSON.stringify(query)]);
  return (
    <Page title={t("library.title")}>
      <div className="filters" role="search" aria-label={t("library.search")}>
        <Field label={t("library.search")} htmlFor="library-q" hint={t("library.searchHint")}>
          <input id="library-q" type="search" value={q} onChange={(e) => setQ(e.target.value)} placeholder={t("library.searchPlaceholder")} />
        </Field>
        <Field label={t("library.scope")} htmlFor="library-scope">
          <select id="library-scope" value={scope} onChange={(e) => setScope(e.target.value as "project" | "all")}>
            <option value="project">{t("library.scopeProject")}</option>
            <option value="all">{t("library.scopeAll")}</option>
          </select>
        </Field>
        <Field label={t("library.family")} htmlFor="library-family">
          <select id="library-family" value={family} onChange={(e) => setFamily(e.target.value)}>
            <option value="">{t("common.any")}</option>
            {FAMILIES.map((f) => (
              <option key={f} value={f}>
                {f}
              </option>
            ))}
          </select>
        </Field>
        <Field label={t("library.kind")} htmlFor="library-kind">
          <select id="library-kind" value={kind} onChange={(e) => setKind(e.target.value as "model")}>
            <option value="model">{t("library.kindModel")}</option>
            <option value="dataset">{t("library.kindDataset")}</option>
            <option value="all">{t("common.any")}</option>
          </select>
        </Field>
        <Field label={t("library.tags")} htmlFor="library-tag">
          <input id="library-tag" value={tag} onChange={(e) => setTag(e.target.value)} />
        </Field>
        <Field label={t("library.sort")} htmlFor="library-sort">
          <select id="library-sort" value={sort} onChange={(e) => setSort(e.target.value as "-updated")}>
            {SORTS.map((s) => (
              <option key={s} value={s}>
                {t(`sort.${s.replace("-", "desc_")}` as "sort.name")}
              </option>
            ))}
          </select>
        </Field>
      </div>
      <Async state={page}>
        {(data) =>
          data.items.length === 0 ? (
            <Empty>{t("library.empty")}</Empty>
          ) : (
            <>
              <p className="muted" aria-live="polite">
                {t("library.count", { n: data.total })}
              </p>
              <table data-testid="model-table">
                <thead>
                  <tr>
                    <th scope="col">{t("library.name")}</th>
                    <th scope="col">{t("library.family")}</th>
                    <th scope="col">{t("library.tags")}</th>
                    <th scope="col">{t("library.files")}</th>
                    <th scope="col">{t("common.updated")}</th>
                  </tr>
                </thead>
                <tbody>
                  {data.items.map((m) => (
                    <tr key={m.model_id}>
                      <td>
                        <Link to={m.kind === "dataset" ? `/datasets/${encodeURIComponent(m.model_id)}` : `/models/${encodeURIComponent(m.model_id)}`}>{m.name}</Link>
                      </td>
                      <td>{m.family}</td>
                      <td>{m.tags.map((x) => <span key={x} className="tag">{x}</span>)}</td>
                      <td>
                        {m.file_count ?? 0} · {bytes(m.total_size)}
                      </td>
                      <td>{stamp(m.updated, lang)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </>
          )
        }
      </Async>
      {projectId && <RegisterModel projectId={projectId} />}
    </Page>
  );
}

function RegisterModel({ projectId }: { projectId: string }) {
  const { t } = useI18n();
  const [name, setName] = useState("");
  const [family, setFamily] = useState<(typeof FAMILIES)[number]>("bert");
  const [description, setDescription] = useState("");
  const [tags, setTags] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const m = await post<Model>(`/projects/${encodeURIComponent(projectId)}/models`, {
        name: name.trim(),
        family,
        description,
        tags: tags.split(/[,，\s]+/).filter(Boolean),
      });
      navigate(`/models/${encodeURIComponent(m.model_id)}`);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form className="card inline-form" onSubmit={submit} aria-labelledby="register-title">
      <h2 id="register-title">{t("library.register")}</h2>
      <Field label={t("library.name")} htmlFor="model-name">
        <input id="model-name" value={name} onChange={(e) => setName(e.target.value)} required />
      </Field>
      <Field label={t("library.family")} htmlFor="model-family">
        <select id="model-family" value={family} onChange={(e) => setFamily(e.target.value as "bert")}>
          {FAMILIES.map((f) => (
            <option key={f} value={f}>
              {f}
            </option>
          ))}
        </select>
      </Field>
      <Field label={t("library.description")} htmlFor="model-description">
        <input id="model-description" value={description} onChange={(e) => setDescription(e.target.value)} />
      </Field>
      <Field label={t("library.tags")} htmlFor="model-tags" hint={t("library.tagsHint")}>
        <input id="model-tags" value={tags} onChange={(e) => setTags(e.target.value)} />
      </Field>
      <button type="submit" className="primary" disabled={busy || !name.trim()}>
        {t("library.registerButton")}
      </button>
      {error !== null && <ErrorBox error={error} />}
    </form>
  );
}
