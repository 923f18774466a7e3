"""Workflow runs for the API and the CLI (``tlm runs list|show|cancel``).

A run's steps, status and timing are derived from its stream (``workflowrun-<id>``) on each
``show_run``. ``list_runs`` reads the ``runs`` view (``runtime.workflows.runs_view``) when given
one (the container always does); without a view (a bare store in a test) it falls back to
scanning the log. Cancel goes to whatever drives runs (the local runner here; a Step Functions
adapter with the same ``cancel`` on AWS).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from domain.errors import NotFound
from domain.records import RecordedEvent
from domain.workflows import events as ev
from domain.workflows.run import WorkflowRun
from runtime.ports import EventStore, ViewStore


class RunCanceller(Protocol):
    def cancel(self, run_id: str, *, reason: str = "") -> Any: ...


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    return None if start is None or end is None else round((end - start).total_seconds(), 3)


def summarize(records: list[RecordedEvent]) -> dict[str, Any]:
    """Run status, per-step attempts with status and timing, from the run's events."""
    state = WorkflowRun.fold(r.event() for r in records)
    steps: list[dict[str, Any]] = []
    open_step: dict[str, Any] | None = None
    for r in records:
        at = r.metadata.occurred_at
        d = r.data
        if r.type == ev.StepStarted.event_type:
            open_step = {
                "step": d["step"],
                "attempt": d["attempt"],
                "status": "running",
                "started_at": at,
                "ended_at": None,
                "resumed": d.get("resumed", False),
                "job": None,
                "error": None,
            }
            steps.append(open_step)
        elif r.type == ev.JobLaunched.event_type and open_step is not None:
            open_step["job"] = d["job_name"]
        elif r.type in (ev.StepSucceeded.event_type, ev.StepFailed.event_type):
            ok = r.type == ev.StepSucceeded.event_type
            if open_step is None or open_step["step"] != d["step"]:  # instantaneous state
                open_step = {
                    "step": d["step"],
                    "attempt": d["attempt"],
                    "started_at": at,
                    "resumed": False,
                    "job": None,
                }
                steps.append(open_step)
            open_step.update(
                status="succeeded" if ok else "failed",
                ended_at=at,
                error=None if ok else {"error": d["error"], "cause": d.get("cause", "")},
            )
            open_step = None
    if open_step is not None and state.finished and records:  # the run ended inside the step
        open_step.update(status=state.status, ended_at=records[-1].metadata.occurred_at)
    for s in steps:
        s["duration_s"] = _seconds(s["started_at"], s["ended_at"])
    started = records[0].metadata.occurred_at if records else None
    ended = records[-1].metadata.occurred_at if state.finished else None
    return {
        "run_id": state.run_id,
        "workflow": state.workflow,
        "status": state.status,
        "started_at": started,
        "ended_at": ended,
        "duration_s": _seconds(started, ended),
        "current_step": state.current_step,
        "error": state.error,
        "cause": state.cause,
        "output": state.output,
        "steps": steps,
    }


class WorkflowService:
    def __init__(
        self, store: EventStore, runner: RunCanceller | None = None, *, views: ViewStore | None = None
    ) -> None:
        self.store = store
        self.runner = runner
        self.views = views

    def show_run(self, run_id: str) -> dict[str, Any]:
        records = self.store.read(WorkflowRun.stream_id(run_id))
        if not records:
            raise NotFound(f"no workflow run {run_id!r}", field="run_id")
        return summarize(records)

    def list_runs(self, *, workflow: str | None = None, status: str | None = None) -> list[dict[str, Any]]:
        """Newest first, without per-step details."""
        if self.views is not None:
            from runtime.services.runs import summary

            rows = [row for _, row in self.views.scan("runs")]
            rows.sort(key=lambda r: (r.get("started_at") or "", r["run_id"]), reverse=True)
            return [
                summary(r)
                for r in rows
                if (workflow is None or r["workflow"] == workflow) and (status is None or r["status"] == status)
            ]
        ids: list[str] = []
        position = 0
        while batch := self.store.read_all(after_position=position, limit=1000):
            ids += [e.data["run_id"] for e in batch if e.type == ev.RunStarted.event_type]
            position = batch[-1].position or 0
        out = []
        for run_id in reversed(ids):
            run = self.show_run(run_id)
            if (workflow is None or run["workflow"] == workflow) and (status is None or run["status"] == status):
                run.pop("steps")
                out.append(run)
        return out

    def cancel_run(self, run_id: str, *, reason: str = "") -> dict[str, Any]:
        if self.runner is None:
            raise NotFound("no workflow runner is configured", field="runner")
        self.show_run(run_id)  # NotFound for an unknown run
        self.runner.cancel(run_id, reason=reason)
        return self.show_run(run_id)
