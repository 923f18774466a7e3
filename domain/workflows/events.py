"""Events of a workflow run, stream ``workflowrun-<run id>``. Timing comes from each event's
metadata (``occurred_at``); the events carry what a restart needs to resume: the document after
each step, the next state, and the job a step launched."""

from __future__ import annotations

from typing import Any

from domain.events import DomainEvent, event


@event("workflowrun.started")
class RunStarted(DomainEvent):
    run_id: str
    workflow: str
    input: dict[str, Any]
    backend: str = "local"  # "local" | "stepfunctions"
    parent_run_id: str | None = None  # a child run: the run whose ChildWorkflow state started it


@event("workflowrun.step_started")
class StepStarted(DomainEvent):
    step: str
    attempt: int  # 1 for the first try
    resumed: bool = False  # re-run after a restart (at least once)


@event("workflowrun.job_launched")
class JobLaunched(DomainEvent):
    step: str
    attempt: int
    job_name: str


@event("workflowrun.step_succeeded")
class StepSucceeded(DomainEvent):
    step: str
    attempt: int
    document: Any  # the run document after the step
    next: str | None  # None: the run ends here


@event("workflowrun.step_failed")
class StepFailed(DomainEvent):
    step: str
    attempt: int
    error: str
    cause: str = ""


@event("workflowrun.step_retried")
class StepRetried(DomainEvent):
    step: str
    attempt: int  # the attempt about to start
    delay_s: float


@event("workflowrun.step_caught")
class StepCaught(DomainEvent):
    step: str
    error: str
    next: str
    document: Any


@event("workflowrun.succeeded")
class RunSucceeded(DomainEvent):
    output: Any


@event("workflowrun.failed")
class RunFailed(DomainEvent):
    error: str
    cause: str = ""
    step: str | None = None


@event("workflowrun.cancel_requested")
class RunCancelRequested(DomainEvent):
    reason: str = ""


@event("workflowrun.cancelled")
class RunCancelled(DomainEvent):
    step: str | None = None


@event("workflowrun.failure_recorded")
class FailureRecorded(DomainEvent):
    """Written by a workflow's own failure-recording state (a RecordTask), on AWS straight into
    the events table by the state machine, locally through the event store."""

    workflow: str
    error: str
    cause: str = ""


# ---------------------------------------------------------------- fan-out (Map items, Parallel branches)


@event("workflowrun.iteration_job_launched")
class IterationJobLaunched(DomainEvent):
    """A job launched inside item / branch ``index`` of a Map or Parallel step (recorded before
    the job starts, so that a restart can stop it if the iteration is run again)."""

    step: str
    attempt: int
    index: int
    job_name: str


@event("workflowrun.iteration_succeeded")
class IterationSucceeded(DomainEvent):
    """Item / branch ``index`` of a Map or Parallel step finished; a restart does not run it again."""

    step: str
    attempt: int
    index: int
    output: Any


@event("workflowrun.iteration_failed")
class IterationFailed(DomainEvent):
    step: str
    attempt: int
    index: int
    error: str
    cause: str = ""


@event("workflowrun.child_started")
class ChildRunStarted(DomainEvent):
    """A ChildWorkflow step started run ``child_run_id`` (whose RunStarted names this run as its
    parent); recorded before the child starts."""

    step: str
    attempt: int
    workflow: str
    child_run_id: str
