"""Reactions of the search: ``study.requested`` (and ``study.resumed``) starts the ``study``
workflow under the run id the event names; a study run that ends without the study having
finished (the run failed or was cancelled) records ``study.finished`` with reason ``failed`` /
``cancelled``, so no study stays "running" for ever. Both idempotent (a second start of the same
run id is a Conflict = started; a finished study decides no events)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from domain.errors import ConcurrencyConflict, Conflict, DomainError
from domain.records import RecordedEvent
from domain.studies import study as sd
from domain.workflows import events as wev
from runtime.ports import EventStore
from runtime.reactions.registry import Reaction
from runtime.reactions.runs import RUN_ENDS, SYSTEM, _failure
from runtime.services.commands import Caller, execute, load

WORKFLOW = "study"


class StudyReactions:
    def __init__(self, *, store: EventStore, workflows: Callable[[], Any]) -> None:
        self.store = store
        self.workflows = workflows

    def reactions(self) -> list[Reaction]:
        return [
            Reaction("start-study-run", frozenset({"study.requested", "study.resumed"}), self.start_run),
            Reaction("record-study-outcome", RUN_ENDS, self.record_outcome),
        ]

    def _caller(self, event: RecordedEvent) -> Caller:
        return Caller(SYSTEM.user_id, correlation_id=event.metadata.correlation_id or event.stream_id)

    def start_run(self, event: RecordedEvent) -> None:
        d = event.data
        study_id = d["study_id"]
        state, _ = load(self.store, sd.STUDIES, study_id)
        if not state.exists or state.finished is not None:
            return
        run_input = {"study_id": study_id, "project_id": state.requested.project_id if state.requested else ""}
        try:
            self.workflows().start(WORKFLOW, run_input, run_id=d["run_id"])
        except (Conflict, ConcurrencyConflict):
            return  # started already (a redelivery)
        except DomainError as e:
            self._finish(study_id, "failed", f"could not start: {e}", event)

    def record_outcome(self, event: RecordedEvent) -> None:
        records = self.store.read(event.stream_id)
        started = next((r for r in records if r.type == wev.RunStarted.event_type), None)
        if started is None or started.data.get("workflow") not in (WORKFLOW, None):
            return
        study_id = (started.data.get("input") or {}).get("study_id")
        if not study_id:
            return
        if event.type == wev.RunSucceeded.event_type:
            return  # its Finish step recorded the end
        error, cause = _failure(records)
        status = "cancelled" if event.type == wev.RunCancelled.event_type else "failed"
        self._finish(str(study_id), status, f"{error}: {cause}" if error else cause, event,
                     run_id=str(started.data.get("run_id") or ""))  # fmt: skip

    def _finish(self, study_id: str, reason: str, error: str, event: RecordedEvent, *, run_id: str = "") -> None:
        state, _ = load(self.store, sd.STUDIES, study_id)
        if not state.exists or state.finished is not None:
            return
        if run_id and run_id != state.run_id:
            return  # the end of an earlier run (a resumed study runs under a new one)
        best = state.best()
        cmd = sd.Finish(reason=reason, best_trial=best.number if best else None, error=error[:2000])
        with contextlib.suppress(Conflict):
            execute(self.store, sd.STUDIES, study_id, cmd, self._caller(event), retries=3)
