"""The ``runs`` view: one row per workflow run (key = run id), folded from the run's own stream
``workflowrun-<run id>`` on both backends (locally the runner writes every step; on AWS the
execution-status Lambda appends the start and the end).

Row: ``run_id, workflow, project_id, owner {kind, id} | None, status, started_at, ended_at,
current_step, error, cause, backend``. ``owner`` is the entity the run works for, named in its
input (``training_id`` -> training, ``compile_id`` -> compile). Listing and authorizing runs read
this view (``runtime.services.runs``); nothing scans the log to find runs.

Only the lifecycle events below change a row; any other ``workflowrun.*`` type (per-iteration or
child-run events added later, the failure tail's record) is ignored here. A row is fed by one
stream, so the cross-stream ordering rule of ``runtime.projections`` holds trivially.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from domain.projection import Row
from domain.records import RecordedEvent
from domain.workflows import events as ev
from runtime import projections

PREFIX = "workflowrun-"
OWNERS = (("training_id", "training"), ("compile_id", "compile"))
_ENDS = {
    ev.RunSucceeded.event_type: "succeeded",
    ev.RunFailed.event_type: "failed",
    ev.RunCancelled.event_type: "cancelled",
}
_TYPES = frozenset(
    {
        ev.RunStarted.event_type,
        ev.StepStarted.event_type,
        ev.StepSucceeded.event_type,
        ev.StepFailed.event_type,
        ev.RunCancelRequested.event_type,
        *_ENDS,
    }
)


def owner_of(run_input: Any) -> dict[str, str] | None:
    if isinstance(run_input, dict):
        for field, kind in OWNERS:
            if run_input.get(field):
                return {"kind": kind, "id": str(run_input[field])}
    return None


class RunsView:
    view = "runs"

    def keys(self, event: RecordedEvent) -> Sequence[str]:
        if event.type not in _TYPES or not event.stream_id.startswith(PREFIX):
            return []
        return [event.stream_id[len(PREFIX) :]]

    def apply(self, key: str, row: Row | None, event: RecordedEvent) -> Row | None:
        d, at = event.data, event.metadata.occurred_at.isoformat()
        if event.type == ev.RunStarted.event_type:
            run_input = d.get("input") or {}
            project = run_input.get("project_id") if isinstance(run_input, dict) else None
            return {
                "run_id": d["run_id"],
                "workflow": d["workflow"],
                "project_id": str(project) if project else None,
                "owner": owner_of(run_input),
                "backend": d.get("backend", "local"),
                "status": "running",
                "started_at": at,
                "ended_at": None,
                "current_step": None,
                "error": None,
                "cause": None,
            }
        if row is None:
            return None  # progress of a run whose start this view never saw
        row = dict(row)
        if event.type == ev.StepStarted.event_type:
            row["current_step"] = d["step"]
        elif event.type in (ev.StepSucceeded.event_type, ev.StepFailed.event_type):
            row["current_step"] = None
        elif event.type == ev.RunCancelRequested.event_type:
            row["status"] = "cancelling"
        elif event.type in _ENDS:
            row.update(status=_ENDS[event.type], ended_at=at, current_step=None)
            if event.type == ev.RunFailed.event_type:
                row.update(error=d.get("error"), cause=d.get("cause", ""))
        return row


RUNS = projections.register(RunsView())
