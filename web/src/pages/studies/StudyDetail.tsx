// One study: its state and best trial (with links to the best model and config), steering
// (parallelism, budget, cancel, resume), the live trial table and the plots. Polls while it runs.
import { enc, get } from "../../api/client";
import { Page } from "../../components/Page";
import { Async } from "../../components/status";
import { useI18n } from "../../i18n";
import { Link } from "../../lib/router";
import { useAsync, useInterval } from "../../lib/useAsync";
import { StudyControls } from "./StudyControls";
import { StudyPlots } from "./StudyPlots";
import { StudyStatus } from "./StudyStatus";
import { Counts, formatValue } from "./StudyList";
import "./studies.css";
import { TrialTable } from "./TrialTable";
import { isSettled, type Study } from "./types";

export function StudyDetail({ params }: { params: Record<string, string> }) {
  const { t } = useI18n();
  const id = params.studyId;
  const study = useAsync((s) => get<Study>(`/studies/${enc(id)}`, undefined, s), [id]);
  const live = study.data !== undefined && !isSettled(study.data);
  useInterval(study.reload, 2000, live);
  return (
    <Async state={study}>
      {(s) => (
        <Page
          title={
            <>
              {s.name} <StudyStatus status={s.status} />
            </>
          }
          actions={<Link to="/studies">{t("studies.title")}</Link>}
        >
          <Facts study={s} />
          <StudyControls study={s} onChange={study.reload} />
          <TrialTable studyId={s.study_id} live={live} objectives={s.objectives.map((o) => o.name)} />
          <StudyPlots studyId={s.study_id} live={live} />
        </Page>
      )}
    </Async>
  );
}

function Facts({ study: s }: { study: Study }) {
  const { t } = useI18n();
  const best = s.best;
  return (
    <div className="grid2">
      <section className="card" aria-labelledby="study-facts">
        <h2 id="study-facts">{t("studies.about")}</h2>
        <dl className="facts">
          <dt>{t("common.id")}</dt>
          <dd>
            <code>{s.study_id}</code>
          </dd>
          <dt>{t("studies.strategy")}</dt>
          <dd>{s.strategy}</dd>
          <dt>{t("studies.objectives")}</dt>
          <dd>
            {s.objectives.map((o) => (
              <div key={o.name}>
                <code>{o.expression}</code> · {o.direction === "maximize" ? t("studies.maximize") : t("studies.minimize")}
              </div>
            ))}
          </dd>
          <dt>{t("studies.trials")}</dt>
          <dd>
            <Counts counts={s.counts} /> · {t("studies.budget", { spent: Object.values(s.counts).reduce((a, b) => a + b, 0), max: s.max_trials })}
          </dd>
          <dt>{t("studies.parallelism")}</dt>
          <dd data-testid="parallelism">{s.parallelism}</dd>
          {s.finished_reason && (
            <>
              <dt>{t("studies.endedBy")}</dt>
              <dd data-testid="finished-reason">
                {s.finished_reason}
                {s.error ? <span className="bad"> · {s.error}</span> : null}
              </dd>
            </>
          )}
          {s.config_id && (
            <>
              <dt>{t("studies.config")}</dt>
              <dd>
                <Link to={`/configs/${enc(s.config_id)}`}>{s.config_id}</Link> · {t("common.version")} {s.config_version}
              </dd>
            </>
          )}
          {s.dataset_id && (
            <>
              <dt>{t("studies.dataset")}</dt>
              <dd>
                <Link to={`/datasets/${enc(s.dataset_id)}`}>{s.dataset_id}</Link>
              </dd>
            </>
          )}
        </dl>
      </section>
      <section className="card" aria-labelledby="study-best" data-testid="study-best">
        <h2 id="study-best">{t("studies.best")}</h2>
        {!best ? (
          <p className="muted">{t("studies.noBest")}</p>
        ) : (
          <dl className="facts">
            <dt>{t("studies.trial")}</dt>
            <dd>#{best.number}</dd>
            <dt>{t("studies.value")}</dt>
            <dd data-testid="best-value">{(best.values ?? []).map(formatValue).join(" / ")}</dd>
            <dt>{t("studies.params")}</dt>
            <dd>
              <Params params={best.params} />
            </dd>
            <dt>{t("studies.bestModel")}</dt>
            <dd>{s.best_model_id ? <Link to={`/models/${enc(s.best_model_id)}`}>{s.best_model_id}</Link> : <span className="muted">{t("studies.notRegistered")}</span>}</dd>
            <dt>{t("studies.bestConfig")}</dt>
            <dd>
              {s.best_config_id ? (
                <Link to={`/configs/${enc(s.best_config_id)}`}>
                  {s.best_config_id}
                  {s.best_config_version ? ` · ${t("common.version")} ${s.best_config_version}` : ""}
                </Link>
              ) : (
                <span className="muted">{t("studies.notRegistered")}</span>
              )}
            </dd>
          </dl>
        )}
      </section>
    </div>
  );
}

export function Params({ params }: { params: Record<string, unknown> }) {
  return (
    <span className="params">
      {Object.entries(params).map(([k, v]) => (
        <span key={k} className="tag">
          {k.replace(/^(architecture|training)\./, "")}={typeof v === "number" ? formatValue(v) : String(v)}
        </span>
      ))}
    </span>
  );
}
