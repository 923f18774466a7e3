"""A ``JobRunner`` that queues: per-user and per-project caps on jobs running at once.

``QueuedJobRunner`` wraps the real runner (local subprocesses or SageMaker). ``start`` records
the job in the queue (``domain.jobqueue``, stream ``jobqueue-all``) and starts it at once if its
user and project have a free slot; otherwise the job waits, it is not refused. ``describe`` of a
waiting job answers ``Pending`` with ``queue_position`` and first tries to admit waiting jobs:
workflows poll ``describe`` while a job runs, so admission happens without a scheduler thread,
on both backends. A job that ended (seen by ``describe`` or by an admission round, which asks
the real runner about every running job) frees its slot; ``stop`` of a waiting job withdraws it.

Who a job belongs to: ``scope_of(spec)`` (see ``job_scope``): the ``TLM_JOB_USER`` and
``TLM_JOB_PROJECT`` entries of the spec's environment (services that start jobs directly set
them), or the training / compile the job works for (its first event names the project and who
asked). A job with no owner (e.g. a test's fake job) runs uncapped and untracked.

Concurrency: admission appends with the expected version; a process that lost the race
re-reads the queue and tries again, so two processes cannot both take the last slot. A crash
between "admitted" and the real start is repaired by the next ``describe`` (the real runner
does not know the job: it is started then).
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable
from typing import Any

from domain.compiles.compile import COMPILES
from domain.errors import ConcurrencyConflict, Conflict, NotFound
from domain.events import DomainEvent, EventMetadata
from domain.job_requests import JOB_REQUESTS
from domain.jobqueue import STREAM, Caps, JobAdmitted, JobQueued, JobReleased, QueueState, admissible, apply
from domain.records import NewEvent
from domain.trainings import TRAININGS
from runtime.ports import EventStore, JobRunner, JobSpec, JobStatus

log = logging.getLogger(__name__)
TERMINAL = ("Completed", "Failed", "Stopped")
ACTOR = "system:jobqueue"
USER_ENV, PROJECT_ENV = "TLM_JOB_USER", "TLM_JOB_PROJECT"
Scope = tuple[str, str]  # (user id, project id)


def job_scope(store: EventStore) -> Callable[[JobSpec], Scope | None]:
    """The default owner lookup: the spec's environment, else the training or compile it serves."""

    def scope_of(spec: JobSpec) -> Scope | None:
        env = spec.environment or {}
        if env.get(USER_ENV) and env.get(PROJECT_ENV):
            return env[USER_ENV], env[PROJECT_ENV]
        return owner_scope(store, spec.hyperparameters or {})

    return scope_of


OWNER_KEYS = (("training_id", TRAININGS), ("compile_id", COMPILES), ("job_request", JOB_REQUESTS))


def owner_scope(store: EventStore, values: dict[str, Any]) -> Scope | None:
    """Who asked and in which project: the first event of the training, compile or job request that
    ``values`` names (``training_id`` / ``compile_id`` / ``job_request``); None for none of them."""
    for key, aggregate in OWNER_KEYS:
        entity = values.get(key)
        if isinstance(entity, str) and entity:
            first = store.read(aggregate.stream_id(entity), until_version=1)
            if first and first[0].data.get("project_id"):
                return first[0].metadata.actor, str(first[0].data["project_id"])
    return None


class QueuedJobRunner:
    def __init__(
        self,
        inner: JobRunner,
        store: EventStore,
        caps_of: Callable[[str], Caps],
        *,
        scope_of: Callable[[JobSpec], Scope | None] | None = None,
    ) -> None:
        self.inner = inner
        self.store = store
        self.caps_of = caps_of
        self.scope_of = scope_of or job_scope(store)
        self._state = QueueState()
        self._lock = threading.RLock()

    def __getattr__(self, name: str) -> Any:  # root, programs, register_program, attach_log_sink ...
        return getattr(self.inner, name)

    # ---------------------------------------------------------------- the queue stream
    def _refresh(self) -> QueueState:
        for r in self.store.read(STREAM, after_version=self._state.version):
            apply(self._state, r.event(), r.version)
        return self._state

    def _append(self, event: DomainEvent) -> bool:
        """Append at the version this process has seen; False when another writer came first."""
        try:
            self.store.append(STREAM, [NewEvent.of(event, EventMetadata(actor=ACTOR))], self._state.version)
        except ConcurrencyConflict:
            return False
        finally:
            self._refresh()
        return True

    # ---------------------------------------------------------------- admission
    def _release_ended(self) -> None:
        for name, entry in list(self._refresh().running.items()):
            if entry.run_id is not None:  # a workflow's slot: its release step or run end frees it
                continue
            try:
                st = self.inner.describe(name)
            except NotFound:  # admitted but never started (a crash in between): start it now
                self._launch(name, entry.spec)
                continue
            if st.state in TERMINAL:
                self._append(JobReleased(job=name, state=st.state, reason=st.failure_reason))

    def _admit(self) -> None:
        """Start every waiting job that has a slot now (queue order)."""
        with self._lock:
            self._release_ended()
            while True:
                # workflow slots in the list are admitted by their own admit step (runtime.services.job_slots)
                ready = [e for e in admissible(self._refresh(), self.caps_of) if e.run_id is None]
                if not ready:
                    return
                entry = ready[0]
                if not self._append(JobAdmitted(job=entry.job)):
                    continue  # another process changed the queue: look again
                self._launch(entry.job, entry.spec)

    def _launch(self, name: str, spec: dict[str, Any]) -> None:
        try:
            self.inner.start(JobSpec(**spec))
        except Conflict:
            pass  # already started (a retried launch)
        except Exception as exc:  # could not start: the slot is free again, the job failed
            log.warning("queued job %s could not start", name, exc_info=True)
            failed = JobReleased(job=name, state="Failed", reason=f"could not start: {exc}", started=False)
            while not self._append(failed):
                if name not in self._state.running:
                    break

    # ---------------------------------------------------------------- JobRunner
    def start(self, spec: JobSpec) -> str:
        scope = self.scope_of(spec)
        if scope is None:
            return self.inner.start(spec)
        with self._lock:
            while True:
                if self._refresh().known(spec.name):
                    raise Conflict(f"job {spec.name!r} already exists", field="name")
                queued = JobQueued(job=spec.name, user_id=scope[0], project_id=scope[1], spec=dataclasses.asdict(spec))
                if self._append(queued):
                    break
            self._admit()
        return spec.name

    def position(self, name: str) -> int | None:
        """The job's 1-based place in the queue, None when it is not waiting."""
        with self._lock:
            return self._refresh().position(name)

    def describe(self, name: str) -> JobStatus:
        with self._lock:
            state = self._refresh()
            if name in state.ended:
                e = state.ended[name]
                return JobStatus(name=name, state=e.state, failure_reason=e.reason)
            if state.position(name) is not None or state.waiting:
                self._admit()
            pos = self._state.position(name)
            if pos is not None:
                return JobStatus(name=name, state="Pending", queue_position=pos)
            if name in self._state.ended:
                e = self._state.ended[name]
                return JobStatus(name=name, state=e.state, failure_reason=e.reason)
            running = self._state.running.get(name)
        try:
            st = self.inner.describe(name)
        except NotFound:
            if running is None or running.run_id is not None:  # a workflow's slot: its run starts the job
                raise
            with self._lock:  # admitted, never started (a crash in between): start it now
                self._launch(name, running.spec)
            return JobStatus(name=name, state="Pending")
        if running is not None and st.state in TERMINAL:
            with self._lock:
                self._refresh()
                if name in self._state.running:
                    self._append(JobReleased(job=name, state=st.state, reason=st.failure_reason))
                self._admit()
        return st

    def stop(self, name: str) -> None:
        with self._lock:
            while self._refresh().position(name) is not None:
                if self._append(JobReleased(job=name, state="Stopped", reason="stopped while queued", started=False)):
                    self._admit()
                    return
        self.inner.stop(name)

    def logs(self, name: str, *, start: int = 0) -> tuple[list[str], int]:
        with self._lock:
            state = self._refresh()
            if state.position(name) is not None or (name in state.ended and not state.ended[name].started):
                return [], start
        return self.inner.logs(name, start=start)
