"""The workflow run aggregate: lifecycle running -> succeeded | failed | cancelled, with
cancelling in between. The local runner writes every event through ``decide`` so a finished run
takes no more progress and a cancel cannot race past the end."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from domain.aggregate import Aggregate
from domain.errors import Conflict, Invalid
from domain.events import Command, DomainEvent
from domain.workflows import events as ev

Status = Literal["new", "running", "cancelling", "succeeded", "failed", "cancelled"]
FINISHED = ("succeeded", "failed", "cancelled")


class RunState(BaseModel):
    model_config = ConfigDict(frozen=True)

    run_id: str = ""
    workflow: str = ""
    status: Status = "new"
    document: Any = None
    next_step: str | None = None  # the state to run next (or the one running)
    current_step: str | None = None  # started and not finished
    attempt: int = 1  # attempt number of next_step / current_step
    job_name: str | None = None  # job of the current step, if it launched one
    output: Any = None
    error: str | None = None
    cause: str | None = None
    failure: tuple[str, str] | None = None  # (error, cause) of a failed step not yet handled
    at_end: bool = False  # the last step had no next state: only the run's end is missing
    parent_run_id: str | None = None
    # the running Map / Parallel step: finished iterations (index -> {"output"} or
    # {"error", "cause"}) and the jobs of unfinished ones; the running ChildWorkflow's child run
    items: dict[int, dict[str, Any]] = {}
    item_jobs: dict[int, str] = {}
    child_run_id: str | None = None

    @property
    def finished(self) -> bool:
        return self.status in FINISHED


def evolve(state: RunState, e: DomainEvent) -> RunState:
    def upd(**kw: Any) -> RunState:
        return state.model_copy(update=kw)

    fresh: dict[str, Any] = {"items": {}, "item_jobs": {}, "child_run_id": None}
    if isinstance(e, ev.RunStarted):
        return RunState(
            run_id=e.run_id, workflow=e.workflow, status="running", document=e.input, parent_run_id=e.parent_run_id
        )
    if isinstance(e, ev.StepStarted):
        keep = {} if e.resumed else fresh  # a resumed Map keeps its finished items
        return upd(current_step=e.step, next_step=e.step, attempt=e.attempt, job_name=None, failure=None, **keep)
    if isinstance(e, ev.JobLaunched):
        return upd(job_name=e.job_name)
    if isinstance(e, ev.IterationJobLaunched):
        return upd(item_jobs={**state.item_jobs, e.index: e.job_name})
    if isinstance(e, ev.IterationSucceeded | ev.IterationFailed):
        done = {"output": e.output} if isinstance(e, ev.IterationSucceeded) else {"error": e.error, "cause": e.cause}
        jobs = {i: j for i, j in state.item_jobs.items() if i != e.index}
        return upd(items={**state.items, e.index: done}, item_jobs=jobs)
    if isinstance(e, ev.ChildRunStarted):
        return upd(child_run_id=e.child_run_id)
    if isinstance(e, ev.StepSucceeded):
        return upd(
            document=e.document,
            next_step=e.next,
            current_step=None,
            job_name=None,
            attempt=1,
            at_end=e.next is None,
            **fresh,
        )
    if isinstance(e, ev.StepFailed):
        return upd(current_step=None, job_name=None, failure=(e.error, e.cause), **fresh)
    if isinstance(e, ev.StepRetried):
        return upd(next_step=e.step, attempt=e.attempt, failure=None)
    if isinstance(e, ev.StepCaught):
        return upd(document=e.document, next_step=e.next, attempt=1, failure=None)
    if isinstance(e, ev.RunSucceeded):
        return upd(status="succeeded", output=e.output, current_step=None)
    if isinstance(e, ev.RunFailed):
        return upd(status="failed", error=e.error, cause=e.cause, current_step=None)
    if isinstance(e, ev.RunCancelRequested):
        return upd(status="cancelling")
    if isinstance(e, ev.RunCancelled):
        return upd(status="cancelled", current_step=None)
    return state  # FailureRecorded and other recorded events carry no lifecycle


class StartRun(Command):
    run_id: str
    workflow: str
    input: dict[str, Any]
    backend: str = "local"
    parent_run_id: str | None = None


class Progress(Command):
    """Step-level progress (StepStarted, JobLaunched, StepSucceeded, StepFailed, StepRetried,
    StepCaught, or an event a RecordTask writes): only while the run is not finished."""

    event: DomainEvent


class Finish(Command):
    event: DomainEvent  # RunSucceeded | RunFailed | RunCancelled


class RequestCancel(Command):
    reason: str = ""


def decide(state: RunState, command: Command) -> list[DomainEvent]:
    if isinstance(command, StartRun):
        if state.status != "new":
            raise Conflict(f"run {command.run_id!r} exists", field="run_id")
        return [
            ev.RunStarted(
                run_id=command.run_id,
                workflow=command.workflow,
                input=command.input,
                backend=command.backend,
                parent_run_id=command.parent_run_id,
            )
        ]
    if state.status == "new":
        raise Invalid("no such run", field="run_id")
    if isinstance(command, RequestCancel):
        if state.finished:
            raise Conflict(f"run {state.run_id!r} is already {state.status}", field="status")
        if state.status == "cancelling":
            return []
        return [ev.RunCancelRequested(reason=command.reason)]
    if state.finished:
        raise Conflict(f"run {state.run_id!r} is already {state.status}", field="status")
    if isinstance(command, Progress):
        return [command.event]
    if isinstance(command, Finish):
        if not isinstance(command.event, ev.RunSucceeded | ev.RunFailed | ev.RunCancelled):
            raise Invalid("Finish takes RunSucceeded, RunFailed or RunCancelled", field="event")
        return [command.event]
    raise Invalid(f"unknown command {type(command).__name__}", field="command")


WorkflowRun: Aggregate[RunState] = Aggregate("workflowrun", RunState, evolve, decide)
