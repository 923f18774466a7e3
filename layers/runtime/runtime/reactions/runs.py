"""The first reactions: a request starts its run, a run's end is recorded on its owner.

- ``start-training-run`` (``training.requested``) and ``start-compile-run``
  (``compile.requested``): start the ``train`` / ``compile`` workflow under the run id the request
  recorded. A redelivery finds the run (the runner refuses a second start of the same id with
  Conflict; StartExecution of the same name and input is idempotent) and does nothing. A request
  that cannot start at all (its config is gone, the workflow is unknown) is recorded as its
  owner's end instead, so nothing stays "starting" for ever.
- ``start-job-request-run`` (``jobrequest.requested``: an architecture test or the demo import,
  ``domain.job_requests``): start the request's one-job workflow under its run id, with the job's
  output prefix added to its input; one that cannot start is recorded as the request's end.
- ``record-run-outcome`` (``workflowrun.succeeded|failed|cancelled``, on AWS appended by the
  execution-status Lambda): the run's owner, named in its input (``compile_id``, ``training_id``
  or a job request's ``job_name``), gets ``compile.succeeded|failed|cancelled`` /
  ``training.ended`` / ``jobrequest.ended``. Recording twice decides no events; an owner that
  already ended otherwise keeps its end (Conflict).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any, Protocol

from domain.compiles.compile import COMPILES, CancelCompile, FailCompile
from domain.configs.aggregate import CONFIG
from domain.errors import ConcurrencyConflict, Conflict, DomainError
from domain.job_requests import JOB_REQUESTS, RecordJobOutcome
from domain.records import RecordedEvent
from domain.trainings import TRAININGS, RecordOutcome
from domain.workflows import events as wev
from domain.workflows.run import WorkflowRun
from runtime.ports import EventStore
from runtime.reactions.registry import Reaction
from runtime.services.commands import Caller, execute, load
from runtime.services.compiles import compile_run_input
from runtime.services.training import training_run_input

SYSTEM = Caller(user_id="system:reactions")
# the workflows the reactions start (infra grants StartExecution on them); "release" is
# runtime.reactions.releases' start-release-run, "study" runtime.reactions.studies'
STARTS = ("compile", "train", "arch-test", "demo-import", "release", "study")
RUN_ENDS = frozenset({wev.RunSucceeded.event_type, wev.RunFailed.event_type, wev.RunCancelled.event_type})
_STATUS = {
    wev.RunSucceeded.event_type: "succeeded",
    wev.RunFailed.event_type: "failed",
    wev.RunCancelled.event_type: "cancelled",
}


class WorkflowStarter(Protocol):
    def start(self, workflow: str, input: dict[str, Any], *, run_id: str | None = None) -> str: ...


def _caller(event: RecordedEvent) -> Caller:
    """Act as the system, in the request's correlation (who asked stays in the request)."""
    return Caller(SYSTEM.user_id, correlation_id=event.metadata.correlation_id or event.stream_id)


class RunReactions:
    def __init__(
        self,
        *,
        store: EventStore,
        workflows: Callable[[], WorkflowStarter],
        channel_uri: Callable[[str], str],
        training_root: str,
        compile_root: str,
        job_output_root: str = "",
    ) -> None:
        self.store = store
        self.workflows = workflows  # built on first use (on AWS it needs the state machine settings)
        self.channel_uri = channel_uri
        self.training_root = training_root.rstrip("/")
        self.compile_root = compile_root.rstrip("/")
        self.job_output_root = job_output_root.rstrip("/")  # SageMaker adds <job name>/output/

    def reactions(self) -> list[Reaction]:
        return [
            Reaction("start-training-run", frozenset({"training.requested"}), self.start_training_run),
            Reaction("start-compile-run", frozenset({"compile.requested"}), self.start_compile_run),
            Reaction("start-job-request-run", frozenset({"jobrequest.requested"}), self.start_job_request_run),
            Reaction("record-run-outcome", RUN_ENDS, self.record_run_outcome),
        ]

    # ------------------------------------------------------------------ request -> start its run
    def _start(self, workflow: str, run_input: dict[str, Any], run_id: str) -> bool:
        """True when this call started the run, False when it was there already."""
        try:
            self.workflows().start(workflow, run_input, run_id=run_id)
        except (Conflict, ConcurrencyConflict):
            return False
        return True

    def start_training_run(self, event: RecordedEvent) -> None:
        d = event.data
        config = CONFIG.fold(
            r.event() for r in self.store.read(CONFIG.stream_id(d["config_id"]), until_version=d["config_version"])
        )
        state, _ = load(self.store, TRAININGS, d["training_id"])
        if state.outcome is not None:
            return  # it ended without a run (or the run ended and was recorded): nothing to start
        if not config.values:
            self._record_training(d["training_id"], "failed", "TLM.NotStarted",
                                  f"config {d['config_id']} v{d['config_version']} is gone", event)  # fmt: skip
            return
        run_input = training_run_input(d, config.values, f"{self.training_root}/{d['training_id']}")
        try:
            self._start("train", run_input, d["run_id"])
        except DomainError as e:  # refused for good (e.g. an invalid run id): the training ends
            self._record_training(d["training_id"], "failed", "TLM.NotStarted", f"could not start: {e}", event)

    def start_compile_run(self, event: RecordedEvent) -> None:
        d = event.data
        state, _ = load(self.store, COMPILES, d["compile_id"])
        if state.terminal:
            return  # cancelled (or failed) before its run started: nothing to start
        run_input = compile_run_input(
            d,
            model_uri=self.channel_uri(f"{d['run_id']}/model"),
            output_uri=f"{self.compile_root}/{d['compile_id']}",
            requested_by=event.metadata.actor,
        )
        try:
            self._start("compile", run_input, d["run_id"])
        except DomainError as e:
            self._settle(d["compile_id"], FailCompile(reason=f"could not start: {e}", error="TLM.NotStarted"), event)

    def start_job_request_run(self, event: RecordedEvent) -> None:
        d = event.data
        state, _ = load(self.store, JOB_REQUESTS, d["job_name"])
        if state.outcome is not None:
            return  # ended (or refused) before its run started
        run_input = {**d["input"], "job_name": d["job_name"], "project_id": d["project_id"],
                     "output_uri": self.job_output_root}  # fmt: skip
        try:
            self._start(d["workflow"], run_input, d["run_id"])
        except DomainError as e:
            self._record_job(d["job_name"], "failed", "TLM.NotStarted", f"could not start: {e}", event)

    # ------------------------------------------------------------------ run ended -> owner's outcome
    def record_run_outcome(self, event: RecordedEvent) -> None:
        records = self.store.read(event.stream_id)
        started = next((r for r in records if r.type == wev.RunStarted.event_type), None)
        if started is None:
            return  # not a run this reaction knows the owner of
        run_input = started.data.get("input") or {}
        status = _STATUS[event.type]
        if run_input.get("compile_id"):
            self._settle(str(run_input["compile_id"]), self._compile_outcome(records, status), event)
        elif run_input.get("training_id"):
            error, cause = _failure(records) if status == "failed" else ("", "")
            self._record_training(str(run_input["training_id"]), status, error, cause, event)
        elif run_input.get("job_name"):
            error, cause = _failure(records) if status == "failed" else ("", "")
            self._record_job(str(run_input["job_name"]), status, error, cause, event)

    @staticmethod
    def _compile_outcome(records: list[RecordedEvent], status: str) -> Any:
        run = WorkflowRun.fold(r.event() for r in records)
        if status == "succeeded":  # its Record step writes compile.succeeded before the run ends
            return FailCompile(reason="the run succeeded but the compile was not recorded", error="TLM.NotRecorded")
        if status == "cancelled":
            return CancelCompile(reason="the workflow run was cancelled", step=run.current_step or run.next_step)
        error, cause = _failure(records)
        failed = [r.data["step"] for r in records if r.type == wev.StepFailed.event_type]
        ended = next((r for r in reversed(records) if r.type == wev.RunFailed.event_type), None)
        step = failed[-1] if failed else (ended.data.get("step") if ended else None)
        return FailCompile(reason=cause or error or "failed", error=error, step=step)

    def _settle(self, compile_id: str, command: Any, event: RecordedEvent) -> None:
        state, _ = load(self.store, COMPILES, compile_id)
        if state.status == "new" or state.terminal:
            return  # unknown, or already ended (its own steps, a cancel, an earlier delivery)
        with contextlib.suppress(Conflict):  # it ended otherwise meanwhile: that end stands
            execute(self.store, COMPILES, compile_id, command, _caller(event), retries=3)

    def _record_training(self, training_id: str, status: str, error: str, cause: str, event: RecordedEvent) -> None:
        state, _ = load(self.store, TRAININGS, training_id)
        if not state.exists or state.outcome is not None:
            return
        cmd = RecordOutcome(status=status, error=error, cause=cause)
        with contextlib.suppress(Conflict):
            execute(self.store, TRAININGS, training_id, cmd, _caller(event), retries=3)

    def _record_job(self, job_name: str, status: str, error: str, cause: str, event: RecordedEvent) -> None:
        state, _ = load(self.store, JOB_REQUESTS, job_name)
        if not state.exists or state.outcome is not None:
            return
        cmd = RecordJobOutcome(status=status, error=error, cause=cause)
        with contextlib.suppress(Conflict):
            execute(self.store, JOB_REQUESTS, job_name, cmd, _caller(event), retries=3)


def _failure(records: list[RecordedEvent]) -> tuple[str, str]:
    """(error, cause) of a failed run: the failure tail's record (both backends write it), else
    the run's own end."""
    recorded = [r for r in records if r.type == wev.FailureRecorded.event_type]
    if recorded:
        return str(recorded[-1].data.get("error", "")), str(recorded[-1].data.get("cause", ""))
    ended = next((r for r in reversed(records) if r.type == wev.RunFailed.event_type), None)
    return (str(ended.data.get("error", "")), str(ended.data.get("cause", ""))) if ended else ("", "")
