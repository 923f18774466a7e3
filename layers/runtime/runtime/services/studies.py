"""Hyperparameter search studies (issue 13): start, watch, steer, and read them.

``start`` checks everything before the one write (``study.requested``; the start-study-run
reaction starts the ``study`` workflow, ``runtime.workflows.study_workflow``): editor on the
project; the config and dataset as a training would check them (``TrainingService``); the space
against the config's schema (``domain.studies.space``: ``space.<path>.<key>``); strategy,
objectives (``objectives[i].expression``), constraints, pruner, budget, parallelism (each a 422
naming its field); enqueued points; the warm-start study (viewer on its project). Nothing is
written when a check fails.

Reads fold the study's stream (``study-<id>``); ``study_data`` is the one dict the plots take
(``runtime.services.study_plots``, ``tlm.study_plot_files``). Running studies are steered with
``change`` (parallelism and budget, read at the next round), ``cancel`` (running trials are
stopped, the best so far is kept, nothing is registered) and ``resume`` (a failed or cancelled
study goes on under a new run).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from domain.errors import Invalid, NotFound
from domain.events import new_id
from domain.library.values import clean_name
from domain.studies import definition as dfn
from domain.studies import events as ev
from domain.studies import study as sd
from domain.studies.space import MAX_GRID, parse_space
from runtime.ports import EventStore
from runtime.services.commands import Caller, execute

MAX_ENQUEUED = 100
MAX_WARM = 500
MAX_STEPS_PER_TRIAL = 10_000_000
JOB_OPTIONS = {
    "eval_every": (1, 10**7),
    "log_every": (1, 10**6),
    "num_threads": (1, 64),
    "checkpoint_every": (0, 10**7),
}


def _iso(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


class StudiesService:
    def __init__(self, *, store: EventStore, access: Any, training: Callable[[], Any], catch_up: Callable[[], None],
                 project_runs: Callable[[], Any], views: Any = None) -> None:  # fmt: skip
        self.store, self.access, self.views = store, access, views
        self._training, self.catch_up, self._project_runs = training, catch_up, project_runs

    # ------------------------------------------------------------------ start
    def start(
        self, caller: Caller, project_id: str, *, name: str, config_id: str, dataset_id: str, space: Any,
        strategy: str = "tpe", objectives: Any = "val_accuracy", constraints: list[str] | None = None,
        pruner: Any = None, intermediate: Any = None, max_trials: int = 20, max_wall_s: int | None = None,
        target: float | None = None, parallelism: int = 1, seed: int = 0, folds: int | None = None,
        enqueue: list[dict[str, Any]] | None = None, warm_start_from: str | None = None,
        model_id: str | None = None, steps_per_trial: int | None = None, job_options: dict[str, Any] | None = None,
    ) -> dict[str, Any]:  # fmt: skip
        self.access.require(caller, project_id, "editor")
        name = clean_name(name)
        objs = dfn.objectives(objectives)
        strategy = dfn.check_strategy(strategy, len(objs))
        cons = dfn.constraints(constraints)
        prune = dfn.pruner(pruner)
        watch = dfn.intermediate(intermediate, objs)
        dfn.bounded(max_trials, 1, dfn.MAX_TRIALS, "max_trials")
        dfn.bounded(parallelism, 1, dfn.MAX_PARALLEL, "parallelism")
        dfn.bounded(max_wall_s, 1, dfn.MAX_WALL_S, "max_wall_s", optional=True)
        dfn.bounded(seed, 0, 2**31 - 1, "seed")
        dfn.bounded(steps_per_trial, 1, MAX_STEPS_PER_TRIAL, "steps_per_trial", optional=True)
        if target is not None and (len(objs) > 1 or not isinstance(target, int | float) or isinstance(target, bool)):
            raise Invalid("a target value is a number, for a single-objective study", field="target")
        cv = strategy.startswith("cv-")
        k = dfn.bounded(folds if folds is not None else 3, 2, dfn.MAX_FOLDS, "folds") if cv else 0
        if folds and not cv:
            raise Invalid("folds are for the cv-grid and cv-random strategies", field="folds")
        opts = self._job_options(job_options or {})
        training = self._training()
        config = training._config(caller, project_id, config_id)
        ds = training._dataset(caller, project_id, dataset_id)
        if model_id is None:
            training._fits(config, ds)
        else:
            from runtime.services import finetune

            finetune.check_compatible(config, finetune.parent_model(training.c, caller, model_id))
        training.c.limits.check_model(project_id, config["values"])
        parsed = parse_space(space, config["family"])
        if strategy in ("grid", "cv-grid"):
            size = len(parsed.grid())  # raises naming the float without a step, or a grid that is too big
            if size > MAX_GRID:
                raise Invalid(f"the grid has {size} points", field="space")
        queued = self._enqueued(parsed, enqueue or [])
        warm = self._warm(caller, parsed, len(objs), warm_start_from) if warm_start_from else []
        study_id = new_id()[:16]
        requested = ev.StudyRequested(
            study_id=study_id, project_id=project_id, name=name, space=parsed.to_list(), strategy=strategy,
            objectives=objs, constraints=cons, intermediate=watch, pruner=prune, max_trials=max_trials,
            max_wall_s=max_wall_s, target=float(target) if target is not None else None, parallelism=parallelism,
            seed=seed, folds=k, config_id=config_id, config_version=config["version"], family=config["family"],
            base_values=config["values"], dataset_id=dataset_id, model_id=model_id, enqueued=queued,
            warm_start=warm, warm_start_from=warm_start_from, run_id=study_id, job_options=opts,
            steps_per_trial=steps_per_trial,
        )  # fmt: skip
        execute(self.store, sd.STUDIES, study_id, sd.RequestStudy(requested=requested), caller)
        return self.get(caller, study_id)

    @staticmethod
    def _job_options(raw: dict[str, Any]) -> dict[str, Any]:
        for key, value in raw.items():
            if key not in JOB_OPTIONS:
                raise Invalid(
                    f"unknown job option {key!r}; expected one of {sorted(JOB_OPTIONS)}", field=f"job_options.{key}"
                )
            dfn.bounded(value, *JOB_OPTIONS[key], f"job_options.{key}")
        return dict(raw)

    @staticmethod
    def _enqueued(space: Any, points: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if not isinstance(points, list) or len(points) > MAX_ENQUEUED:
            raise Invalid(f"at most {MAX_ENQUEUED} enqueued points, as a list", field="enqueue")
        out = []
        for i, point in enumerate(points):
            if not isinstance(point, dict):
                raise Invalid("a point maps parameter paths to values", field=f"enqueue[{i}]")
            fixed = {("architecture." + k[6:] if k.startswith("model.") else k): v for k, v in point.items()}
            out.append(space.check_point(fixed, field=f"enqueue[{i}]"))
        return out

    def _warm(self, caller: Caller, space: Any, n_objectives: int, source_id: str) -> list[dict[str, Any]]:
        try:
            other = self._state(caller, source_id)
        except NotFound:
            raise NotFound(f"no study {source_id!r} to warm start from", field="warm_start_from") from None
        out = []
        for t in other.trials:
            if t.state != "complete" or t.values is None or len(t.values) != n_objectives or not t.feasible:
                continue
            try:
                space.check_point(t.params)
            except Invalid:
                continue  # a point outside this space cannot inform its sampler
            out.append({"params": dict(t.params), "values": list(t.values)})
        return out[-MAX_WARM:]

    # ------------------------------------------------------------------ reads
    def _load(self, study_id: str) -> tuple[sd.Study, list[Any]]:
        records = self.store.read(sd.STUDIES.stream_id(study_id))
        state = sd.STUDIES.fold(r.event() for r in records)
        if not state.exists:
            raise NotFound(f"no study {study_id!r}", field="study_id")
        return state, records

    def _state(self, caller: Caller, study_id: str, role: str = "viewer") -> sd.Study:
        state, _ = self._load(study_id)
        assert state.requested is not None
        self.access.require(caller, state.requested.project_id, role)
        return state

    @staticmethod
    def _times(records: list[Any]) -> dict[int, dict[str, Any]]:
        out: dict[int, dict[str, Any]] = {}
        for r in records:
            n = r.data.get("number")
            if n is None:
                continue
            slot = out.setdefault(int(n), {"asked_at": None, "started_at": None, "ended_at": None})
            if r.type == "study.trial_asked":
                slot["asked_at"] = _iso(r.recorded_at)
            elif r.type == "study.trial_running":
                slot["started_at"] = slot["started_at"] or _iso(r.recorded_at)
            elif r.type in ("study.trial_completed", "study.trial_pruned", "study.trial_failed"):
                slot["ended_at"] = _iso(r.recorded_at)
        return out

    @staticmethod
    def _trial_doc(t: sd.Trial, times: dict[str, Any]) -> dict[str, Any]:
        return {
            "number": t.number, "round": t.round, "state": t.state, "source": t.source, "params": dict(t.params),
            "values": list(t.values) if t.values is not None else None,
            "std": list(t.std) if t.std is not None else None,
            "constraints": list(t.constraints) if t.constraints is not None else None, "feasible": t.feasible,
            "intermediate": dict(t.intermediate), "last_value": t.last_value(), "pruned_step": t.pruned_step,
            "metrics": dict(t.metrics), "reason": t.reason, "jobs": list(t.jobs),
            "job": t.jobs[0] if t.jobs else None, "started_at": times.get("started_at"),
            "ended_at": times.get("ended_at"),
        }  # fmt: skip

    def get(self, caller: Caller, study_id: str) -> dict[str, Any]:
        state, records = self._load(study_id)
        req = state.requested
        assert req is not None
        self.access.require(caller, req.project_id, "viewer")
        times = self._times(records)
        best = state.best()
        fin = state.finished
        status = fin.reason if fin else ("cancelling" if state.cancel_requested else "running")
        return {
            "study_id": req.study_id, "project_id": req.project_id, "name": req.name, "strategy": req.strategy,
            "status": "finished" if fin and fin.reason not in ("failed", "cancelled") else status,
            "finished_reason": fin.reason if fin else None, "error": fin.error if fin else "",
            "objectives": req.objectives, "directions": state.directions, "constraints": req.constraints,
            "pruner": req.pruner, "intermediate": req.intermediate, "space": req.space,
            "config_id": req.config_id, "config_version": req.config_version, "dataset_id": req.dataset_id,
            "model_id": req.model_id, "parallelism": state.parallelism, "max_trials": state.max_trials,
            "max_wall_s": state.max_wall_s, "target": state.target, "seed": req.seed, "folds": req.folds,
            "run_id": state.run_id, "rounds": state.rounds, "counts": state.counts(),
            "best": self._trial_doc(best, times.get(best.number, {})) if best else None,
            "pareto_front": [t.number for t in state.pareto_front()] if len(req.objectives) > 1 else None,
            "best_model_id": fin.model_id if fin else None, "best_config_id": fin.best_config_id if fin else None,
            "best_config_version": fin.best_config_version if fin else None,
            "warm_start_from": req.warm_start_from, "warm_start_trials": len(req.warm_start),
            "created_at": _iso(records[0].recorded_at), "created_by": records[0].metadata.actor,
            "ended_at": _iso(records[-1].recorded_at) if fin else None,
        }  # fmt: skip

    def trials(self, caller: Caller, study_id: str, *, state: str | None = None) -> list[dict[str, Any]]:
        st, records = self._load(study_id)
        assert st.requested is not None
        self.access.require(caller, st.requested.project_id, "viewer")
        if state is not None and state not in ("asked", "running", "complete", "pruned", "failed"):
            raise Invalid("state must be asked, running, complete, pruned or failed", field="state")
        times = self._times(records)
        return [self._trial_doc(t, times.get(t.number, {})) for t in st.trials if state in (None, t.state)]

    def best(self, caller: Caller, study_id: str) -> dict[str, Any]:
        doc = self.get(caller, study_id)
        if doc["best"] is None:
            raise NotFound(f"study {study_id} has no completed feasible trial yet", field="study_id")
        front = doc["pareto_front"]
        trials = {t["number"]: t for t in self.trials(caller, study_id)} if front else {}
        return {**doc["best"], "study_id": study_id, "model_id": doc["best_model_id"],
                "config_id": doc["best_config_id"], "config_version": doc["best_config_version"],
                "pareto_front": [trials[n] for n in front] if front else None}  # fmt: skip

    def _list_from_runs(self, caller: Caller, project_id: str) -> list[dict[str, Any]]:
        """Without a view store: the ``runs`` view's study runs (run id = the study id, or
        ``<study id>-r<n>`` after a resume), each study folded from its stream."""
        seen: list[str] = []
        for row in self._project_runs().rows(project_id=project_id, workflow="study"):
            sid = str(row["run_id"]).split("-r")[0]
            if sid not in seen:
                seen.append(sid)
        out = []
        for sid in seen:
            try:
                d = self.get(caller, sid)
            except NotFound:
                continue
            out.append({k: d[k] for k in ("study_id", "name", "strategy", "status", "counts", "created_at")}
                       | {"best_value": (d["best"] or {}).get("values")})  # fmt: skip
        return out

    def list(self, caller: Caller, project_id: str) -> list[dict[str, Any]]:
        """The project's studies, newest first, from the ``studies`` view (``runtime.views.studies``:
        one row per study, partitioned by project)."""
        self.access.require(caller, project_id, "viewer")
        self.catch_up()
        if self.views is None:
            return self._list_from_runs(caller, project_id)
        from runtime.views.studies import STUDIES_VIEW, list_row

        rows = [row for _, row in self.views.scan_partition(STUDIES_VIEW.view, project_id)]
        rows.sort(key=lambda r: (str(r["created_at"]), str(r["study_id"])), reverse=True)
        return [list_row(r) for r in rows]

    def study_data(self, caller: Caller, study_id: str) -> dict[str, Any]:
        """The StudyData dict the plot modules take (``runtime.services.study_plots``)."""
        st, records = self._load(study_id)
        req = st.requested
        assert req is not None
        self.access.require(caller, req.project_id, "viewer")
        times = self._times(records)
        return {
            "study_id": study_id,
            "directions": st.directions,
            "objective_names": [o["name"] for o in req.objectives],
            "space": [
                {k: p[k] for k in ("path", "kind", "low", "high", "log", "choices", "condition")} for p in req.space
            ],
            "trials": [
                {
                    "number": t.number,
                    "state": t.state,
                    "params": dict(t.params),
                    "values": list(t.values) if t.values is not None else None,
                    "constraints": list(t.constraints) if t.constraints is not None else None,
                    "feasible": t.feasible,
                    "intermediate": {str(k): float(v) for k, v in t.intermediate.items()},
                    "started_at": times.get(t.number, {}).get("started_at"),
                    "ended_at": times.get(t.number, {}).get("ended_at"),
                    "job": t.jobs[0] if t.jobs else None,
                }
                for t in st.trials
            ],  # fmt: skip
        }

    def trials_csv(self, caller: Caller, study_id: str) -> str:
        """Every trial as CSV (``runtime.services.study_plots.trials_csv`` over ``study_data``)."""
        from runtime.services.study_plots import trials_csv

        return trials_csv(self.study_data(caller, study_id))

    # ------------------------------------------------------------------ steering
    def change(self, caller: Caller, study_id: str, *, parallelism: int | None = None, max_trials: int | None = None,
               max_wall_s: int | None = None, target: float | None = None) -> dict[str, Any]:  # fmt: skip
        st = self._state(caller, study_id, "editor")
        dfn.bounded(parallelism, 1, dfn.MAX_PARALLEL, "parallelism", optional=True)
        dfn.bounded(max_trials, 1, dfn.MAX_TRIALS, "max_trials", optional=True)
        dfn.bounded(max_wall_s, 1, dfn.MAX_WALL_S, "max_wall_s", optional=True)
        if target is not None and len(st.directions) > 1:
            raise Invalid("a target value is for a single-objective study", field="target")
        cmd = sd.ChangeSettings(parallelism=parallelism, max_trials=max_trials, max_wall_s=max_wall_s, target=target)
        execute(self.store, sd.STUDIES, study_id, cmd, caller, retries=3)
        return self.get(caller, study_id)

    def cancel(self, caller: Caller, study_id: str, reason: str = "") -> dict[str, Any]:
        self._state(caller, study_id, "editor")
        execute(self.store, sd.STUDIES, study_id, sd.Cancel(reason=reason[:500]), caller, retries=3)
        return self.get(caller, study_id)

    def resume(self, caller: Caller, study_id: str) -> dict[str, Any]:
        self._state(caller, study_id, "editor")
        execute(self.store, sd.STUDIES, study_id, sd.Resume(), caller, retries=3)
        return self.get(caller, study_id)
