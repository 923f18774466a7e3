"""Read models of workflow runs (``/runs``) and jobs (``/jobs``, arch tests): the shapes of
``runtime.workflows.service.summarize`` (the Step Functions adapter answers the same shape) and
``runtime.services.arch_tests``."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from functions.api.read_base import Out
from functions.api.schemas import RunStatus


class StepError(Out):
    error: str
    cause: str


class Step(Out):
    step: str
    attempt: int
    status: str
    started_at: str | None
    ended_at: str | None
    duration_s: float | None
    resumed: bool = False
    job: str | None = None
    error: StepError | None = None


class Owner(Out):
    kind: str
    id: str


class RunSummary(Out):
    run_id: str
    workflow: str
    status: RunStatus
    started_at: str | None
    ended_at: str | None
    duration_s: float | None
    current_step: str | None
    error: str | None
    cause: str | None
    project_id: str
    owner: Owner | None = None


class RunList(Out):
    items: list[RunSummary]


class Run(RunSummary):
    output: Any = None
    steps: list[Step]


class Job(Out):
    job_name: str
    config_id: str
    program: str
    state: str
    failure_reason: str | None
    started_at: str | None
    ended_at: str | None
    metrics: dict[str, float]
    queue_position: int | None
    report: dict[str, Any] | None


class JobLogs(Out):
    job_name: str
    lines: list[str]
    next: int


class ArchTestStarted(Out):
    job_name: str
    config_id: str
    parent_id: str | None
    parent_version: int | None
    options: dict[str, Any]


RESPONSES: dict[tuple[str, str], type[BaseModel]] = {
    ("GET", "/runs"): RunList,
    ("GET", "/runs/<run_id>"): Run,
    ("POST", "/runs/<run_id>/cancel"): Run,
    ("GET", "/jobs/<name>"): Job,
    ("GET", "/jobs/<name>/logs"): JobLogs,
    ("POST", "/jobs/<name>/cancel"): Job,
    ("POST", "/configs/<config_id>/arch-test"): ArchTestStarted,
}
