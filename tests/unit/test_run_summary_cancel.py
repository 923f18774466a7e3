"""A run cancelled (or failed by the runner) while a step runs: that step ends with the run's
status, not "running" (``tlm train show`` / ``tlm runs show``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain.events import EventMetadata
from domain.records import RecordedEvent
from domain.workflows import events as ev
from runtime.workflows.service import summarize

pytestmark = pytest.mark.unit
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def records(*events) -> list[RecordedEvent]:
    out = []
    for n, e in enumerate(events, 1):
        at = T0 + timedelta(seconds=n)
        meta = EventMetadata(actor="t", occurred_at=at)
        data = e.model_dump(mode="json")
        out.append(RecordedEvent(stream_id="workflowrun-r1", version=n, type=e.event_type, data=data, metadata=meta,
                                 recorded_at=at))  # fmt: skip
    return out


def started():
    return [ev.RunStarted(run_id="r1", workflow="train", input={}), ev.StepStarted(step="Train", attempt=1),
            ev.JobLaunched(step="Train", attempt=1, job_name="tlm-train-1")]  # fmt: skip


def test_the_step_a_cancel_interrupted_ends_cancelled():
    run = summarize(records(*started(), ev.RunCancelRequested(reason="x"), ev.RunCancelled(step="Train")))
    assert run["status"] == "cancelled"
    (step,) = run["steps"]
    assert (step["status"], step["job"], step["duration_s"]) == ("cancelled", "tlm-train-1", 3.0)


def test_a_running_step_of_a_live_run_stays_running():
    (step,) = summarize(records(*started()))["steps"]
    assert step["status"] == "running" and step["ended_at"] is None


def test_a_runner_failure_inside_a_step_ends_it_failed():
    run = summarize(records(*started(), ev.RunFailed(error="TLM.RunnerError", cause="boom", step="Train")))
    assert run["steps"][0]["status"] == "failed"
