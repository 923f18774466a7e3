"""Job slots of workflow job steps: the per-user and per-project caps on concurrent jobs for the jobs
a workflow starts itself (``JobTask``: a native ``createTrainingJob`` on Step Functions, the
engine's job launch locally), on the same queue as ``QueuedJobRunner`` (``domain.jobqueue``,
stream ``jobqueue-all``, appends at the expected version).

Every job step of a shipped workflow runs between an admit step and a release step
(``runtime.workflows.job_slot_states``):

- ``admit(run_id, step, job, owner)``: queues the step's slot on first call (``jobqueue.queued``
  with ``run_id``), admits it (``jobqueue.admitted``) when it is among the admissible entries, and
  answers ``{"admitted": True}`` or ``{"admitted": False, "position": n}``; the workflow waits and
  asks again. A slot withdrawn while queued (its job cancelled through the API: ``QueuedJobRunner.stop``)
  raises ``TLM.JobStopped``. Repeating an admit of an admitted slot answers admitted again.
- ``release(run_id, step, job)``: frees the slot; releasing a slot that is free or unknown does
  nothing (the success path, the Catch path and the run's end may all release it).
- ``release_run(run_id)``: frees every slot the run holds or waits for: the run ended without
  reaching its release step (aborted, timed out, failed in a step that is not caught, cancelled
  locally). Called by ``functions/events`` on AWS and by a reaction locally.

Who the slot belongs to comes from the run's owner (``owner``: ``training_id`` / ``compile_id`` /
``job_request``, read as ``job_queue.owner_scope``); a step with no owner runs uncapped and
untracked, as a ``QueuedJobRunner`` job does. The fold is kept per process and read on from the
version it has seen (a warm Lambda reads only what is new).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from domain.errors import ConcurrencyConflict
from domain.events import DomainEvent, EventMetadata
from domain.jobqueue import STREAM, Caps, JobAdmitted, JobQueued, JobReleased, QueueState, admissible, apply, slot_of
from domain.records import NewEvent
from domain.workflows.model import JOB_STOPPED, StepError
from runtime.ports import EventStore
from runtime.services.job_queue import owner_scope

ACTOR = "system:jobslots"
MAX_TRIES = 20  # appends lost to other writers before giving up (the step's retry takes over)


class JobSlots:
    def __init__(self, store: EventStore, caps_of: Callable[[str], Caps]) -> None:
        self.store = store
        self.caps_of = caps_of
        self._state = QueueState()
        self._lock = threading.RLock()

    def _refresh(self) -> QueueState:
        for r in self.store.read(STREAM, after_version=self._state.version):
            apply(self._state, r.event(), r.version)
        return self._state

    def _append(self, event: DomainEvent, reason: str) -> bool:
        """Append at the version this process has seen; False when another writer came first."""
        try:
            meta = EventMetadata(actor=ACTOR, reason=reason)
            self.store.append(STREAM, [NewEvent.of(event, meta)], self._state.version)
        except ConcurrencyConflict:
            return False
        finally:
            self._refresh()
        return True

    # ---------------------------------------------------------------- the steps
    def admit(
        self, run_id: str, step: str, job: str | None = None, owner: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        slot = slot_of(run_id, step, job)
        with self._lock:
            for _ in range(MAX_TRIES):
                state = self._refresh()
                if slot in state.running:
                    return {"slot": slot, "admitted": True, "position": None}
                if slot in state.ended:
                    raise StepError(JOB_STOPPED, state.ended[slot].reason or "the job was withdrawn from the queue")
                position = state.position(slot)
                if position is None:
                    scope = owner_scope(self.store, owner or {})
                    if scope is None:  # nobody to count it against: uncapped, untracked
                        return {"slot": slot, "admitted": True, "position": None}
                    queued = JobQueued(job=slot, user_id=scope[0], project_id=scope[1], spec={}, run_id=run_id)
                    self._append(queued, f"run {run_id} step {step} asks for a job slot")
                    continue
                if any(e.job == slot for e in admissible(state, self.caps_of)):
                    self._append(JobAdmitted(job=slot), f"run {run_id} step {step} takes its job slot")
                    continue
                return {"slot": slot, "admitted": False, "position": position}
        raise ConcurrencyConflict(STREAM, self._state.version)

    def release(
        self, run_id: str, step: str, job: str | None = None, *, state: str = "Completed", reason: str | None = None
    ) -> dict[str, Any]:
        slot = slot_of(run_id, step, job)
        return {"slot": slot, "released": self._release(slot, state, reason or f"run {run_id} step {step} ended")}

    def release_run(self, run_id: str, *, state: str = "Stopped", reason: str | None = None) -> list[str]:
        """Free every slot run ``run_id`` holds or waits for; the slots freed."""
        with self._lock:
            held = self._refresh().held_by(run_id)
        return [s for s in held if self._release(s, state, reason or f"run {run_id} ended")]

    def position_of_run(self, run_id: str) -> int | None:
        """The 1-based queue place of the slot run ``run_id`` waits for, None when it waits for none."""
        with self._lock:
            state = self._refresh()
            return next((p for s in state.held_by(run_id) if (p := state.position(s)) is not None), None)

    def _release(self, slot: str, state: str, reason: str) -> bool:
        with self._lock:
            for _ in range(MAX_TRIES):
                queue = self._refresh()
                waiting = queue.position(slot) is not None
                if slot not in queue.running and not waiting:
                    return False  # free already (or never taken): releasing twice is harmless
                released = JobReleased(job=slot, state=state, reason=reason, started=not waiting)
                if self._append(released, reason):
                    return True
        raise ConcurrencyConflict(STREAM, self._state.version)


def run_of(stream_id: str) -> str:
    return stream_id.removeprefix("workflowrun-")


def release_reaction(slots: Callable[[], JobSlots]) -> Any:
    """``release-run-job-slots`` (local engine): a run that failed or was cancelled frees the slots
    it still holds (on AWS ``functions/events`` does this from the execution's status change)."""
    from domain.workflows import events as wev
    from runtime.reactions.registry import Reaction

    def handle(event: Any) -> None:
        slots().release_run(run_of(event.stream_id), reason=f"the run ended ({event.type})")

    ends = frozenset({wev.RunFailed.event_type, wev.RunCancelled.event_type})
    return Reaction("release-run-job-slots", ends, handle)
