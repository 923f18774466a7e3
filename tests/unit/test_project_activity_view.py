"""The ``project_activity`` view: one row per stream of a project, assigned by its first event."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from domain.events import EventMetadata
from domain.projection import fold_all
from domain.records import RecordedEvent
from runtime.views.project_activity import MAX_EVENTS, ProjectActivityView

pytestmark = pytest.mark.unit

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def rec(stream: str, version: int, type_: str, data: dict[str, Any], actor: str = "u1") -> RecordedEvent:
    return RecordedEvent(stream_id=stream, version=version, type=type_, data=data, recorded_at=T0,
                         metadata=EventMetadata(actor=actor, occurred_at=T0))  # fmt: skip


def test_streams_are_assigned_to_their_project_and_counted_by_kind() -> None:
    events = [
        rec("project-p1", 1, "project.created", {"project_id": "p1", "name": "n", "owner": "u1"}),
        rec("model-m1", 1, "model.registered", {"project_id": "p1", "kind": "dataset"}),
        rec("modelname-p1.abc", 1, "model_name.claimed", {"model_id": "m1"}),
        rec("config-c1", 1, "config.created", {"project_id": "p1", "config_id": "c1"}),
        rec("config-c1", 2, "config.deleted", {"config_id": "c1"}, actor="u2"),
        rec("workflowrun-r1", 1, "workflowrun.started", {"input": {"project_id": "p1"}}),
        rec("workflowrun-r1", 2, "workflowrun.step_started", {"step": "A"}),
        rec("workflowrun-r1", 3, "workflowrun.succeeded", {}),
        rec("jobqueue-all", 1, "jobqueue.queued", {"project_id": "p1"}),  # shared: no row
        rec("config-c9", 2, "config.edited", {"config_id": "c9"}),  # its start never seen: no row
    ]
    rows = fold_all(ProjectActivityView(), events)
    assert sorted(rows) == ["config-c1", "model-m1", "modelname-p1.abc", "project-p1", "workflowrun-r1"]
    assert {r["project_id"] for r in rows.values()} == {"p1"}
    assert rows["model-m1"]["kind"] == "dataset" and rows["modelname-p1.abc"]["kind"] == "name"
    assert rows["config-c1"]["deleted"] and [e["actor"] for e in rows["config-c1"]["events"]] == ["u1", "u2"]
    run = rows["workflowrun-r1"]
    assert [e["type"] for e in run["events"]] == ["workflowrun.started", "workflowrun.succeeded"]
    assert run["last_version"] == 3


def test_a_redelivered_event_is_a_no_op_and_rows_keep_the_newest_entries() -> None:
    first = rec("config-c1", 1, "config.created", {"project_id": "p1", "config_id": "c1"})
    edits = [rec("config-c1", v, "config.edited", {"config_id": "c1"}) for v in range(2, MAX_EVENTS + 12)]
    rows = fold_all(ProjectActivityView(), [first, *edits, edits[3]])
    events = rows["config-c1"]["events"]
    assert len(events) == MAX_EVENTS and events[-1]["version"] == MAX_EVENTS + 11
