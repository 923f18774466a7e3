"""The queue of jobs waiting for a slot (pure): per-user and per-project caps on jobs running at
once; a job beyond a cap waits, first come first served, and is never refused.

The queue is one stream (``jobqueue-all``): ``jobqueue.queued`` (the job, who and which project,
its spec as data), ``jobqueue.admitted`` (it got a slot and was started), ``jobqueue.released``
(it ended, was stopped while waiting, or could not start: the slot is free). Appends carry the
expected version, so two processes admitting at once cannot both take the last slot.

``admissible(state, caps)`` lists the waiting jobs that may start now, in queue order: a job
blocked by its user's or project's cap does not hold back a job of someone else.

Two kinds of entry share the queue: jobs a ``QueuedJobRunner`` starts itself (``spec`` holds the
job), and slots of workflow job steps (``run_id`` set): the workflow's admit step queues and
admits its slot, the state machine (or the local engine) starts the job, and a release step on
every exit, or the run's end, frees it (``runtime.services.job_slots``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from domain.events import DomainEvent, event

STREAM = "jobqueue-all"


@event("jobqueue.queued")
class JobQueued(DomainEvent):
    job: str
    user_id: str
    project_id: str
    spec: dict[str, Any]
    # a slot taken by a workflow's admit step (the run's id): the state machine starts the job itself,
    # so the queue never launches it and the run's release step (or its end) frees the slot
    run_id: str | None = None


@event("jobqueue.admitted")
class JobAdmitted(DomainEvent):
    job: str


@event("jobqueue.released")
class JobReleased(DomainEvent):
    job: str
    state: str  # the job's end state as the queue saw it (Completed, Failed, Stopped)
    reason: str | None = None
    started: bool = True  # False: it never left the queue


@dataclass(frozen=True)
class Entry:
    job: str
    user_id: str
    project_id: str
    spec: dict[str, Any]
    run_id: str | None = None


@dataclass
class QueueState:
    """Mutable fold (the runtime keeps one per process and applies new events as they come)."""

    version: int = 0
    waiting: list[Entry] = field(default_factory=list)
    running: dict[str, Entry] = field(default_factory=dict)
    ended: dict[str, JobReleased] = field(default_factory=dict)  # jobs released before they started

    def known(self, job: str) -> bool:
        return job in self.running or job in self.ended or any(e.job == job for e in self.waiting)

    def position(self, job: str) -> int | None:
        """1-based place in the queue, or None when the job is not waiting."""
        for n, e in enumerate(self.waiting, 1):
            if e.job == job:
                return n
        return None

    def entry(self, job: str) -> Entry | None:
        return self.running.get(job) or next((e for e in self.waiting if e.job == job), None)

    def held_by(self, run_id: str) -> list[str]:
        """Slots a workflow run holds or waits for (its admit steps'), queue order, running first."""
        return [e.job for e in (*self.running.values(), *self.waiting) if e.run_id == run_id]


def apply(state: QueueState, e: DomainEvent, version: int) -> QueueState:
    if isinstance(e, JobQueued):
        state.waiting.append(Entry(e.job, e.user_id, e.project_id, e.spec, e.run_id))
    elif isinstance(e, JobAdmitted):
        for n, w in enumerate(state.waiting):
            if w.job == e.job:
                state.running[e.job] = state.waiting.pop(n)
                break
    elif isinstance(e, JobReleased):
        state.running.pop(e.job, None)
        before = len(state.waiting)
        state.waiting = [w for w in state.waiting if w.job != e.job]
        if len(state.waiting) != before or not e.started:
            state.ended[e.job] = e
    state.version = version
    return state


def slot_of(run_id: str, step: str, job: str | None = None) -> str:
    """The queue key of a workflow job step's slot: the job's own name when the workflow fixes it
    (so the job's status shows its place in the queue), else ``<run id>:<step>`` (one slot for every
    attempt of the step; ``:`` never occurs in a job name, so it cannot clash with one)."""
    return job or f"{run_id}:{step}"


@dataclass(frozen=True)
class Caps:
    max_jobs: int  # per project
    max_jobs_per_user: int


def admissible(state: QueueState, caps_of: Callable[[str], Caps]) -> list[Entry]:
    """Waiting jobs that may start now, in queue order, counting the ones admitted before."""
    per_user: dict[str, int] = {}
    per_project: dict[str, int] = {}
    for r in state.running.values():
        per_user[r.user_id] = per_user.get(r.user_id, 0) + 1
        per_project[r.project_id] = per_project.get(r.project_id, 0) + 1
    out = []
    for w in state.waiting:
        caps = caps_of(w.project_id)
        if per_user.get(w.user_id, 0) < caps.max_jobs_per_user and per_project.get(w.project_id, 0) < caps.max_jobs:
            out.append(w)
            per_user[w.user_id] = per_user.get(w.user_id, 0) + 1
            per_project[w.project_id] = per_project.get(w.project_id, 0) + 1
    return out
