"""Architecture tests as jobs: ask for ``jobs.arch_test`` on a derived config and read its status,
logs and side-by-side report.

One write, many reactions: ``start`` records a ``jobrequest.requested`` (``domain.job_requests``)
and returns at once (202); the start-job-request-run reaction starts the ``arch-test`` workflow
(``runtime.workflows.job_workflows``) whose one job has the name returned here; the run-outcome
reaction records its end. Until the job exists its status is ``Pending`` (or ``Failed`` when the
run could not start); a cancel before then cancels the run.

Authorization: starting needs "write" on the config's project (it spends compute), reading a
job needs "read" there. The job name carries the config id (``archtest-<config id>-<suffix>``),
so a status or log request is authorized against the config's project without a job table;
names that do not have that shape are NotFound (other jobs are not readable through here).

Limits: both models (child and parent) are checked against the project's parameter and memory
limits before the test is asked for (``check_model``); the job's ``job_request`` hyperparameter
names its request, so the job queue (``runtime.services.job_queue``) counts it against its user's
and project's caps. ``cancel`` stops it (a queued test leaves the queue).

Where the report lives: the job writes ``<output>/arch_test.json``. The local runner keeps it in
``<root>/<job>/output/data``; another runner can be given ``read_report(job_name) -> dict|None``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from domain.errors import Conflict, Invalid, NotFound
from domain.events import new_id
from domain.job_requests import JOB_REQUESTS, RequestJob
from runtime.ports import EventStore, JobRunner
from runtime.services.commands import Caller, execute, load
from runtime.workflows.job_workflows import ARCH_TEST_KEYS

Authorize = Callable[[Caller, str, str], None]
PROGRAM = "arch_test"
PREFIX = "archtest"
_NAME = re.compile(rf"^{PREFIX}-([0-9a-f]{{12}})-[0-9a-f]{{8}}$")
WORKFLOW = "arch-test"
DEFAULTS = {"batch_size": 2, "seq_len": 32, "repeats": 5, "text": None, "num_threads": None}  # jobs.arch_test's
LIMITS = {"batch_size": (1, 64), "seq_len": (8, 4096), "repeats": (1, 50), "num_threads": (1, 64)}
MAX_TEXT = 20_000


class ArchTestService:
    def __init__(
        self,
        configs: Any,  # runtime.services.configs.ConfigService
        runner: JobRunner,
        authorize: Authorize,
        *,
        read_report: Callable[[str], dict[str, Any] | None] | None = None,
        check_model: Callable[[str, dict[str, Any]], Any] | None = None,
        store: EventStore,
        cancel_run: Callable[[str, str], Any] | None = None,
        catch_up: Callable[[], None] = lambda: None,
    ) -> None:
        self.configs = configs
        self.runner = runner
        self.authorize = authorize
        self.read_report = read_report or self._local_report
        self.check_model = check_model  # (project id, config values) -> estimate, or TooLarge
        self.store = store  # where the request is recorded (the reactions start its run)
        self.cancel_run = cancel_run  # (run id, reason): a cancel before the job exists
        self.catch_up = catch_up

    # ---------------------------------------------------------------- helpers
    def _local_report(self, name: str) -> dict[str, Any] | None:
        root = getattr(self.runner, "root", None)
        if root is None:
            return None
        path = Path(root) / name / "output" / "data" / "arch_test.json"
        try:
            report = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return report if isinstance(report, dict) else None

    def _config_of(self, caller: Caller, name: str) -> str:
        m = _NAME.match(name or "")
        if not m:
            raise NotFound(f"no architecture test job {name!r}", field="name")
        config_id = m.group(1)
        self.configs.history(caller, config_id)  # NotFound / Forbidden: read on its project
        return config_id

    @staticmethod
    def _options(config: dict[str, Any], parent: dict[str, Any], options: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in options.items():
            if value is None:
                continue
            if key in LIMITS:
                lo, hi = LIMITS[key]
                if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
                    raise Invalid(f"must be an integer from {lo} to {hi}", field=key)
            elif key == "text":
                if not isinstance(value, str) or not value.strip() or len(value) > MAX_TEXT:
                    raise Invalid(f"must be non-empty text of at most {MAX_TEXT} characters", field=key)
            else:
                raise Invalid(f"unknown option {key!r}", field=key)
            out[key] = value
        seq = out.get("seq_len", 32)
        for which, values in (("config", config), ("parent", parent)):
            limit = (values.get("architecture") or {}).get("max_position_embeddings")
            if isinstance(limit, int) and seq > limit:
                raise Invalid(
                    f"seq_len {seq} exceeds the {which}'s max_position_embeddings {limit}", field="seq_len"
                )
        return out

    # ---------------------------------------------------------------- use cases
    def start(self, caller: Caller, config_id: str, **options: Any) -> dict[str, Any]:
        """Start the test of a derived config against its parent; returns the job name."""
        config = self.configs.get(caller, config_id)
        self.authorize(caller, config["project_id"], "write")
        hp = self.configs.arch_test_hyperparameters(caller, config_id)
        opts = self._options(hp["child"], hp["parent"], options)
        if self.check_model is not None:
            for values in (hp["child"], hp["parent"]):
                self.check_model(config["project_id"], values)
        name = f"{PREFIX}-{config_id}-{new_id()[:8]}"
        values = {**hp, **DEFAULTS, **opts}
        request = RequestJob(
            job_name=name,
            kind="arch_test",
            project_id=config["project_id"],
            workflow=WORKFLOW,
            run_id=name,
            input={"hyperparameters": {k: values.get(k) for k in ARCH_TEST_KEYS}, "config_id": config_id},
        )
        execute(self.store, JOB_REQUESTS, name, request, caller)
        lineage = config["derived_from"] or {}
        return {
            "job_name": name,
            "config_id": config_id,
            "parent_id": lineage.get("config_id"),
            "parent_version": lineage.get("version"),
            "options": opts,
        }

    def status(self, caller: Caller, name: str) -> dict[str, Any]:
        config_id = self._config_of(caller, name)
        try:
            st = self.runner.describe(name)
        except NotFound:
            self.catch_up()  # locally: the reactions start its run (read-your-writes; no-op on AWS)
            return self._not_launched(name, config_id)
        return {
            "job_name": name,
            "config_id": config_id,
            "program": PROGRAM,
            "state": st.state,
            "failure_reason": st.failure_reason,
            "started_at": st.started_at.isoformat() if st.started_at else None,
            "ended_at": st.ended_at.isoformat() if st.ended_at else None,
            "metrics": st.metrics,
            "queue_position": st.queue_position,
            "report": self.read_report(name) if st.state == "Completed" else None,
        }

    def cancel(self, caller: Caller, name: str) -> dict[str, Any]:
        """Stop the test (SIGTERM locally, StopTrainingJob on SageMaker; a queued one leaves the
        queue). Needs "write" on the config's project; Conflict once it has ended."""
        config_id = self._config_of(caller, name)
        config = self.configs.get(caller, config_id)
        self.authorize(caller, config["project_id"], "write")
        try:
            st = self.runner.describe(name)
        except NotFound:  # asked for, its run has not launched the job yet: cancel the run
            request = self._request(name)
            if request.outcome is not None:
                raise Conflict(f"job {name} already {request.outcome}", field="name") from None
            if self.cancel_run is not None:
                self.cancel_run(request.run_id, f"cancelled by {caller.user_id}")
            return self.status(caller, name)
        if st.state in ("Completed", "Failed", "Stopped"):
            raise Conflict(f"job {name} already {st.state}", field="name")
        self.runner.stop(name)
        return self.status(caller, name)

    def _request(self, name: str) -> Any:
        state, _ = load(self.store, JOB_REQUESTS, name)
        if not state.exists:
            raise NotFound(f"no architecture test job {name!r}", field="name")
        return state

    def _not_launched(self, name: str, config_id: str) -> dict[str, Any]:
        """The status of a test whose job does not exist (yet): Pending while its run may still
        launch it, else how the request ended."""
        request = self._request(name)
        state = {None: "Pending", "cancelled": "Stopped"}.get(request.outcome, "Failed")
        return {
            "job_name": name,
            "config_id": config_id,
            "program": PROGRAM,
            "state": state,
            "failure_reason": (request.cause or request.error or None) if state == "Failed" else None,
            "started_at": None,
            "ended_at": None,
            "metrics": {},
            "queue_position": None,
            "report": None,
        }

    def logs(self, caller: Caller, name: str, *, start: int = 0) -> dict[str, Any]:
        if start < 0:
            raise Invalid("must be >= 0", field="start")
        self._config_of(caller, name)
        try:
            lines, nxt = self.runner.logs(name, start=start)
        except NotFound:
            self._request(name)  # asked for, not launched yet: no lines
            lines, nxt = [], start
        return {"job_name": name, "lines": lines, "next": nxt}
