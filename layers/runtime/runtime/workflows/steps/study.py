"""The search workflow's steps (``runtime.workflows.study_workflow``): begin -> ask -> per trial
launch + watch (-> trial error) -> finish. Every step reads the study's stream and is safe to run
again (a restarted run repeats the step it was in):

- ``study_begin``: lays the dataset out as channels (and the library model a fine-tuning starts
  from; k folds of train+validation for the cv strategies, locally).
- ``study_ask``: the latest round again while any of its trials is unfinished (a retried ask or a
  resumed run), else the stop reason (budget, target, time, cancelled, exhausted) or a new round of
  ``parallelism`` points (``runtime.sampler.next_points``), appended as ``study.trial_asked``.
- ``study_launch_trial``: the trial's config (base values + its params, validated, within the
  project's limits) and its training job(s), named after the study and trial (a relaunch finds the
  job it started).
- ``study_watch_trial``: reads the jobs' new ``metric:`` log lines (intermediate values), asks the
  pruner and stops a pruned trial's jobs through ``JobRunner.stop``; a finished job's metrics give
  the objective and constraint values. A cancelled study stops its running trials here.
- ``study_trial_error``: a step that failed for good records its trial failed (the study goes on).
- ``study_finish``: registers the best trial's model and a new version of the study's config with
  its params, then ``study.finished``.
"""

from __future__ import annotations

import contextlib
import json
import random
import re
import tempfile
from pathlib import Path
from typing import Any

from domain.configs.validation import violations
from domain.errors import Conflict, DomainError, NotFound
from domain.limits import count_params
from domain.records import RecordedEvent
from domain.studies import definition
from domain.studies import study as sd
from domain.studies.space import SearchSpace
from domain.workflows.model import StepError
from runtime import sampler as sampler_port
from runtime.adapters.sagemaker.requests import job_metric_definitions
from runtime.ports import JobSpec
from runtime.services.commands import Caller, execute
from runtime.workflows.definitions import DEFAULT_SUBSTITUTIONS
from runtime.workflows.steps import outputs
from runtime.workflows.steps.train import split_files

_METRIC = re.compile(r"^metric: (?P<name>[A-Za-z0-9_]+)=(?P<value>[-+0-9.eEinfa]+) step=(?P<step>\d+)")
JOB_PREFIX = "tlm-trial"


def _caller(container: Any, study_id: str) -> Caller:
    records = container.store.read(sd.STUDIES.stream_id(study_id), until_version=1)
    actor = records[0].metadata.actor if records else "workflow:study"
    return Caller(user_id=actor, correlation_id=study_id, reason=f"study {study_id}")


def _study(container: Any, study_id: str) -> tuple[sd.Study, list[RecordedEvent]]:
    records = container.store.read(sd.STUDIES.stream_id(study_id))
    state = sd.STUDIES.fold(r.event() for r in records)
    if not state.exists:
        raise StepError("TLM.NoSuchStudy", f"no study {study_id}")
    return state, records


def _do(container: Any, study_id: str, cmd: Any) -> sd.Study:
    return execute(container.store, sd.STUDIES, study_id, cmd, _caller(container, study_id), retries=5).state


def elapsed_s(records: list[RecordedEvent], now: Any = None) -> float:
    from domain.events import utcnow

    return ((now or utcnow()) - records[0].recorded_at).total_seconds() if records else 0.0


# ------------------------------------------------------------------ begin


def study_begin(container: Any, doc: dict[str, Any]) -> dict[str, Any]:
    study_id = str(doc["study_id"])
    st, _ = _study(container, study_id)
    req = st.requested
    assert req is not None
    files = container.artifacts.files_of(req.dataset_id)
    splits = split_files(list(files))
    if "train" not in splits or "validation" not in splits:
        raise StepError("TLM.InvalidDataset", f"dataset {req.dataset_id} has no train or validation split")
    root = container.artifacts.materialize(req.dataset_id, f"studies/{study_id}/dataset")
    join = (lambda p: root + p) if root.startswith("s3://") else (lambda p: str(Path(root) / p))
    out: dict[str, Any] = {"train_uri": join(splits["train"]), "validation_uri": join(splits["validation"])}
    if req.model_id:
        out["init_uri"] = container.artifacts.materialize(req.model_id, f"studies/{study_id}/init")
        out["init_model"] = req.model_id
    else:
        out["init_uri"], out["init_model"] = root, ""
    out["folds"] = _folds(out, req.folds, req.seed) if req.folds else []
    return out


def _read_rows(uri: str) -> list[str]:
    return [ln for ln in Path(uri).read_text(encoding="utf-8").splitlines() if ln.strip()]


def _folds(prepared: dict[str, Any], k: int, seed: int) -> list[dict[str, str]]:
    """k (train, validation) file pairs over train+validation (jsonl), shuffled by the seed."""
    train, val = str(prepared["train_uri"]), str(prepared["validation_uri"])
    if train.startswith("s3://") or not train.endswith(".jsonl") or not val.endswith(".jsonl"):
        raise StepError("TLM.Unsupported", "k-fold studies need local jsonl splits (not available on AWS yet)")
    rows = _read_rows(train) + _read_rows(val)
    random.Random(seed).shuffle(rows)
    base = Path(train).parent.parent / "folds"
    out = []
    for i in range(k):
        d = base / str(i)
        d.mkdir(parents=True, exist_ok=True)
        held = rows[i::k]
        kept = [r for j, r in enumerate(rows) if j % k != i]
        (d / "train.jsonl").write_text("\n".join(kept) + "\n", encoding="utf-8")
        (d / "validation.jsonl").write_text("\n".join(held) + "\n", encoding="utf-8")
        out.append({"train_uri": str(d / "train.jsonl"), "validation_uri": str(d / "validation.jsonl")})
    return out


# ------------------------------------------------------------------ ask


def study_ask(container: Any, doc: dict[str, Any], *, sampler: Any = sampler_port.optuna_sampler) -> dict[str, Any]:
    study_id = str(doc["study_id"])
    st, records = _study(container, study_id)
    latest = st.round_trials(st.rounds)

    def answer(round_: int, trials: list[sd.Trial], stop: str | None = None) -> dict[str, Any]:
        items = [{"study_id": study_id, "number": t.number, "prepared": doc.get("prepared") or {}} for t in trials]
        return {"round": round_, "trials": items, "stop": stop is not None, "reason": stop or ""}

    if any(not t.ended for t in latest):
        return answer(st.rounds, [t for t in latest if not t.ended])
    reason = st.stop_reason(elapsed_s(records))
    if reason:
        return answer(st.rounds, [], reason)
    n = min(st.parallelism, st.max_trials - len(st.trials))
    round_ = st.rounds + 1
    points = sampler_port.next_points(st, n, round_, sampler)
    if not points:
        return answer(st.rounds, [], "exhausted")
    cmd = sd.AskTrials(round=round_, points=[p["params"] for p in points], sources=[p["source"] for p in points],
                       attrs=[p["attrs"] for p in points])  # fmt: skip
    st = _do(container, study_id, cmd)
    return answer(round_, st.round_trials(round_))


# ------------------------------------------------------------------ one trial


def job_names(study_id: str, number: int, folds: int) -> list[str]:
    base = f"{JOB_PREFIX}-{study_id}-{number}"
    return [f"{base}-f{i}" for i in range(folds)] if folds else [base]


def trial_values(req: Any, params: dict[str, Any]) -> dict[str, Any]:
    space = SearchSpace.from_list(req.space)
    values = space.apply(req.base_values, params)
    if req.steps_per_trial:
        values = space.apply(values, {"training.max_steps": req.steps_per_trial})
    return values


def study_launch_trial(container: Any, doc: dict[str, Any]) -> dict[str, Any]:
    study_id, number = str(doc["study_id"]), int(doc["number"])
    st, _ = _study(container, study_id)
    t, req = st.trial(number), st.requested
    assert req is not None
    if t.ended:
        return {"done": True}
    values = trial_values(req, t.params)
    found = violations(values)
    if found:
        what = "; ".join(f"{v.field}: {v.message}" for v in found[:3])
        _do(container, study_id, sd.Fail(number=number, reason=f"config invalid: {what}"))
        return {"done": True}
    try:
        container.limits.check_model(req.project_id, values)
    except DomainError as e:
        _do(container, study_id, sd.Fail(number=number, reason=f"over the project's limits: {e.message}"))
        return {"done": True}
    prepared = doc.get("prepared") or {}
    names = job_names(study_id, number, req.folds)
    folds = prepared.get("folds") or [prepared] * len(names)
    for i, name in enumerate(names):
        try:
            container.jobs.describe(name)
            continue  # started before a restart: keep watching it
        except NotFound:
            pass
        channels = {"train": str(folds[i]["train_uri"]), "validation": str(folds[i]["validation_uri"]),
                    "init": str(prepared.get("init_uri") or folds[i]["train_uri"])}  # fmt: skip
        spec = JobSpec(
            name=name,
            program="train",
            hyperparameters={
                "config": json.dumps(values),
                "training_id": f"{study_id}-{number}",
                "init_model": str(prepared.get("init_model") or ""),
                **req.job_options,
            },  # fmt: skip
            channels=channels,
            output_uri=f"{container.output_root('trainings')}/study-{study_id}",
            instance_type=DEFAULT_SUBSTITUTIONS["TrainingInstanceType"],
            max_runtime_s=6 * 3600,
            metric_definitions=job_metric_definitions(),
            environment={"TLM_JOB_USER": _caller(container, study_id).user_id, "TLM_JOB_PROJECT": req.project_id},
        )
        with contextlib.suppress(Conflict):  # a concurrent launch of the same trial started it
            container.jobs.start(spec)
    _do(container, study_id, sd.MarkRunning(number=number, jobs=names))
    return {"done": False, "jobs": names}


def _new_values(container: Any, job: str, start: int, metric: str) -> tuple[dict[str, float], int]:
    lines, nxt = container.jobs.logs(job, start=start)
    out: dict[str, float] = {}
    for ln in lines:
        m = _METRIC.match(ln)
        if m and m["name"] == metric:
            with contextlib.suppress(ValueError):
                out[m["step"]] = float(m["value"])
    return out, nxt


def _stop(container: Any, jobs: tuple[str, ...]) -> None:
    for job in jobs:
        with contextlib.suppress(NotFound, Conflict):
            container.jobs.stop(job)


def study_watch_trial(
    container: Any, doc: dict[str, Any], *, sampler: Any = sampler_port.optuna_sampler
) -> dict[str, Any]:
    study_id, number = str(doc["study_id"]), int(doc["number"])
    st, _ = _study(container, study_id)
    t, req = st.trial(number), st.requested
    assert req is not None
    if t.ended:
        return {"done": True}
    if st.cancel_requested:
        _stop(container, t.jobs)
        _do(container, study_id, sd.Fail(number=number, reason="cancelled"))
        return {"done": True}
    try:
        statuses = [container.jobs.describe(j) for j in t.jobs]
    except NotFound as e:
        _do(container, study_id, sd.Fail(number=number, reason=f"job lost: {e.message}"))
        return {"done": True}
    metric = (req.intermediate or {}).get("metric", "val_accuracy")
    first = t.jobs[0]  # k-fold: the first fold's curve is the trial's intermediate values
    values, cursor = _new_values(container, first, t.log_cursor.get(first, 0), metric)
    st = _do(container, study_id, sd.Report(number=number, values=values, log_cursor={first: cursor}))
    running = any(s.state in ("Pending", "InProgress") for s in statuses)
    if running and values and req.pruner is not None and len(st.trial(number).intermediate) > 0:
        prune, attrs = sampler().prune(st, number)
        if attrs:
            st = _do(container, study_id, sd.Report(number=number, values={}, attrs=attrs))
        if prune:
            _stop(container, t.jobs)
            last = st.trial(number).last_value()
            step = max((int(k) for k in st.trial(number).intermediate), default=0)
            _do(container, study_id, sd.Prune(number=number, step=step, value=last))
            return {"done": True, "pruned": True}
    if any(s.state in ("Failed", "Stopped") for s in statuses):
        bad = next(s for s in statuses if s.state in ("Failed", "Stopped"))
        if all(s.state not in ("Pending", "InProgress", "Stopping") for s in statuses):
            _do(container, study_id, sd.Fail(number=number, reason=f"job {bad.name} {bad.state}: {bad.failure_reason}"))
            return {"done": True}
        return {"done": False}
    if all(s.state == "Completed" for s in statuses):
        return _complete(container, st, number, statuses)
    return {"done": False}


def _complete(container: Any, st: sd.Study, number: int, statuses: list[Any]) -> dict[str, Any]:
    req = st.requested
    assert req is not None
    per_job = []
    params = count_params(trial_values(req, st.trial(number).params))[0]
    for s in statuses:
        per_job.append({**{k: float(v) for k, v in s.metrics.items()}, "parameters": float(params)})
    results = [definition.evaluate(req.objectives, req.constraints, m) for m in per_job]
    bad = next((r for r in results if isinstance(r, str)), None)
    if bad is not None:
        _do(container, req.study_id, sd.Fail(number=number, reason=str(bad)))
        return {"done": True}
    ok = [r for r in results if not isinstance(r, str)]
    n = len(ok)
    values = [sum(r[0][i] for r in ok) / n for i in range(len(req.objectives))]
    cons = [sum(r[1][i] for r in ok) / n for i in range(len(req.constraints))]
    std = [(sum((r[0][i] - values[i]) ** 2 for r in ok) / n) ** 0.5 for i in range(len(values))] if n > 1 else None
    metrics = {k: sum(m.get(k, 0.0) for m in per_job) / n for k in per_job[0]}
    cmd = sd.Complete(number=number, values=values, constraints=cons, feasible=all(c <= 0 for c in cons),
                      metrics=metrics, std=std)  # fmt: skip
    _do(container, req.study_id, cmd)
    return {"done": True}


def study_trial_error(container: Any, doc: dict[str, Any]) -> dict[str, Any]:
    study_id, number = str(doc["study_id"]), int(doc["number"])
    st, _ = _study(container, study_id)
    error = doc.get("error") or {}
    t = st.trial(number)
    _stop(container, t.jobs)
    _do(
        container,
        study_id,
        sd.Fail(number=number, reason=f"{error.get('Error', 'error')}: {error.get('Cause', '')}"[:2000]),
    )
    return {"done": True}


# ------------------------------------------------------------------ finish


def study_finish(container: Any, doc: dict[str, Any]) -> dict[str, Any]:
    study_id = str(doc["study_id"])
    st, _ = _study(container, study_id)
    req = st.requested
    assert req is not None
    reason = str((doc.get("asked") or {}).get("reason") or "budget")
    if st.finished is not None:
        return {"reason": st.finished.reason, "best_trial": st.finished.best_trial, "model_id": st.finished.model_id}
    best = st.best()
    if best is None or reason == "cancelled":
        _do(container, study_id, sd.Finish(reason=reason, best_trial=best.number if best else None))
        return {"reason": reason, "best_trial": best.number if best else None, "model_id": None}
    caller = _caller(container, study_id)
    config = _best_config(container, caller, req, best)
    model_id = _register(container, caller, st, best)
    _do(
        container,
        study_id,
        sd.Finish(
            reason=reason,
            best_trial=best.number,
            model_id=model_id,
            best_config_id=config["config_id"],
            best_config_version=config["version"],
        ),
    )
    return {"reason": reason, "best_trial": best.number, "model_id": model_id}


def _best_config(container: Any, caller: Caller, req: Any, best: sd.Trial) -> dict[str, Any]:
    """A new version of the study's config carrying the best trial's params (none when the
    config holds them already: a repeated finish)."""
    current = container.configs.get(caller, req.config_id)
    wanted = SearchSpace.from_list(req.space).apply(current["values"], best.params)
    if wanted == current["values"]:
        return dict(current)
    return dict(container.configs.edit(caller, req.config_id, set=dict(best.params)))


def _register(container: Any, caller: Caller, st: sd.Study, best: sd.Trial) -> str:
    req = st.requested
    assert req is not None
    source = f"study:{req.study_id}:trial:{best.number}"
    container.catch_up()
    for _, row in container.views.scan_partition("models", req.project_id):
        if row.get("source") == source:
            return str(row["model_id"])
    job = container.jobs.describe(best.jobs[0])
    train = {"name": job.name, "model_artifacts": job.model_artifacts}
    with tempfile.TemporaryDirectory(prefix=f"tlm-study-{req.study_id}-") as tmp:
        model = outputs.model_dir(container, train, Path(tmp) / "unpacked")
        bundle = Path(tmp) / "model"
        bundle.mkdir()
        for p in sorted(model.rglob("*")):
            if p.is_file() and not p.is_symlink():
                (bundle / p.relative_to(model)).parent.mkdir(parents=True, exist_ok=True)
                (bundle / p.relative_to(model)).write_bytes(p.read_bytes())
        (bundle / "study.json").write_text(json.dumps({"study_id": req.study_id, "trial": best.number,
                                                        "params": best.params, "values": list(best.values or ()),
                                                        "metrics": best.metrics}, indent=1), "utf-8")  # fmt: skip
        fields = {"family": req.family, "description": f"best trial {best.number} of study {req.name} ({req.study_id})",
                  "tags": ["trained", "study"], "source": source, "kind": "model"}  # fmt: skip
        name = f"{req.name}-best"
        try:
            return str(container.artifacts.ingest_dir(caller, req.project_id, str(bundle), name=name, **fields))
        except Conflict:
            return str(container.artifacts.ingest_dir(caller, req.project_id, str(bundle),
                                                      name=f"{name} ({req.study_id[:8]})", **fields))  # fmt: skip


def steps(container: Any) -> dict[str, Any]:
    return {
        "study_begin": lambda doc: study_begin(container, doc),
        "study_ask": lambda doc: study_ask(container, doc),
        "study_launch_trial": lambda doc: study_launch_trial(container, doc),
        "study_watch_trial": lambda doc: study_watch_trial(container, doc),
        "study_trial_error": lambda doc: study_trial_error(container, doc),
        "study_finish": lambda doc: study_finish(container, doc),
    }
