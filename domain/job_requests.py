"""Job request aggregate: one job a user asked for through the API (an architecture test, the demo
dataset import), run as a one-job workflow, never started by the API itself.

The service records what was asked (``jobrequest.requested``: the workflow, its run id, the run's
input, the job's name) and returns; the start-job-request-run reaction starts the run; the
record-run-outcome reaction records how it ended (``jobrequest.ended``); a run whose work leaves
something to read (the imported dataset) records it first (``jobrequest.result_recorded``). The job's name is fixed
when it is asked for (its own id, so the job's status, logs and cancel are addressed by it before
the job exists), which is why these workflows never retry a job under the same name.

Stream: ``jobrequest-<job name>``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from domain.aggregate import Aggregate
from domain.errors import Conflict, Invalid, NotFound
from domain.events import Command, DomainEvent, event

Kind = Literal["arch_test", "dataset_import"]


@event("jobrequest.requested")
class JobRequested(DomainEvent):
    job_name: str
    kind: str
    project_id: str
    workflow: str
    run_id: str
    input: dict[str, Any] = {}


@event("jobrequest.result_recorded")
class JobResultRecorded(DomainEvent):
    """What the run produced, recorded by its last step (the demo import: the dataset and counts)."""

    result: dict[str, Any] = {}


@event("jobrequest.ended")
class JobRequestEnded(DomainEvent):
    """The request's workflow run ended (the run-outcome reaction), or it could not start."""

    status: str  # "succeeded" | "failed" | "cancelled"
    error: str = ""
    cause: str = ""


class RequestJob(Command):
    job_name: str
    kind: Kind
    project_id: str
    workflow: str
    run_id: str
    input: dict[str, Any] = {}


class RecordJobResult(Command):
    result: dict[str, Any]


class RecordJobOutcome(Command):
    status: Literal["succeeded", "failed", "cancelled"]
    error: str = ""
    cause: str = ""


@dataclass(frozen=True)
class JobRequest:
    job_name: str = ""
    kind: str = ""
    project_id: str = ""
    workflow: str = ""
    run_id: str = ""
    input: dict[str, Any] = field(default_factory=dict)
    result: dict[str, Any] = field(default_factory=dict)
    outcome: str | None = None  # None while its run has not ended
    error: str = ""
    cause: str = ""

    @property
    def exists(self) -> bool:
        return bool(self.job_name)


def evolve(state: JobRequest, evt: DomainEvent) -> JobRequest:
    if isinstance(evt, JobRequested):
        return JobRequest(**{k: getattr(evt, k) for k in JobRequested.model_fields})
    if isinstance(evt, JobResultRecorded):
        return replace(state, result=dict(evt.result))
    if isinstance(evt, JobRequestEnded):
        return replace(state, outcome=evt.status, error=evt.error, cause=evt.cause)
    return state


def decide(state: JobRequest, cmd: Command) -> Sequence[DomainEvent]:
    if isinstance(cmd, RequestJob):
        if state.exists:
            raise Conflict(f"job {cmd.job_name} was asked for already", field="job_name")
        return [JobRequested(**{k: getattr(cmd, k) for k in JobRequested.model_fields if hasattr(cmd, k)})]
    if not state.exists:
        raise NotFound("no such job request", field="job_name")
    if isinstance(cmd, RecordJobResult):
        if state.result == cmd.result:
            return []  # the step ran again (a retry or a restart)
        if state.result:
            raise Conflict("the job request has its result already", field="result")
        return [JobResultRecorded(result=cmd.result)]
    if isinstance(cmd, RecordJobOutcome):
        if state.outcome == cmd.status:
            return []  # a redelivered run end
        if state.outcome is not None:
            raise Conflict(f"job request already {state.outcome}", field="status")
        return [JobRequestEnded(status=cmd.status, error=cmd.error, cause=cmd.cause)]
    raise Invalid(f"unknown command {type(cmd).__name__}")


JOB_REQUESTS = Aggregate[JobRequest]("jobrequest", JobRequest, evolve, decide)
