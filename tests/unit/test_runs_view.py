"""The ``runs`` view folds a run's own stream into one row (project, workflow, owner, status,
times), ignores event types it does not know (per-iteration or child-run events added later), and
the reaction registry refuses ambiguous registrations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from domain.events import EventMetadata
from domain.projection import fold_all
from domain.records import RecordedEvent
from runtime.reactions.registry import Reaction, ReactionRegistry
from runtime.workflows.runs_view import RunsView

pytestmark = pytest.mark.unit
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def run_stream(run_id: str, *types_and_data: tuple[str, dict[str, Any]]) -> list[RecordedEvent]:
    return [
        RecordedEvent(
            stream_id=f"workflowrun-{run_id}",
            version=i + 1,
            type=t,
            data=d,
            recorded_at=T0,
            metadata=EventMetadata(actor="runner", occurred_at=T0 + timedelta(seconds=10 * i)),
        )  # fmt: skip
        for i, (t, d) in enumerate(types_and_data)
    ]


def test_a_run_folds_into_one_row_and_unknown_events_are_ignored() -> None:
    events = run_stream(
        "r1",
        (
            "workflowrun.started",
            {"run_id": "r1", "workflow": "train", "input": {"project_id": "p", "training_id": "t"}},
        ),
        ("workflowrun.step_started", {"step": "Train", "attempt": 1}),
        ("workflowrun.iteration_started", {"step": "Map", "index": 3}),  # a type this view does not know
        ("workflowrun.cancel_requested", {"reason": "enough"}),
        ("workflowrun.cancelled", {"step": "Train"}),
    )
    rows = fold_all(RunsView(), events)
    assert rows == {
        "r1": {
            "run_id": "r1",
            "workflow": "train",
            "project_id": "p",
            "owner": {"kind": "training", "id": "t"},
            "backend": "local",
            "status": "cancelled",
            "started_at": T0.isoformat(),
            "ended_at": (T0 + timedelta(seconds=40)).isoformat(),
            "current_step": None,
            "error": None,
            "cause": None,
        }  # fmt: skip
    }
    # the same fold with the unknown event left out: it changed nothing
    assert fold_all(RunsView(), [e for e in events if e.type != "workflowrun.iteration_started"]) == rows


def test_a_failed_system_run_has_no_project_or_owner() -> None:
    rows = fold_all(RunsView(), run_stream(
        "r2",
        ("workflowrun.started", {"run_id": "r2", "workflow": "compile", "input": {}}),
        ("workflowrun.step_failed", {"step": "Validate", "attempt": 1, "error": "E", "cause": "c"}),
        ("workflowrun.failed", {"error": "TLM.WorkflowFailed", "cause": "it failed", "step": "Failed"}),
    ))  # fmt: skip
    row = rows["r2"]
    assert (row["project_id"], row["owner"], row["status"]) == (None, None, "failed")
    assert (row["error"], row["cause"]) == ("TLM.WorkflowFailed", "it failed")


def test_the_registry_refuses_ambiguous_reactions() -> None:
    def noop(_: RecordedEvent) -> None:
        return None

    a = Reaction("start-x", frozenset({"x.requested"}), noop)
    registry = ReactionRegistry([a])
    assert registry.for_type("x.requested") == [a] and registry.for_type("y") == []
    registry.register(a)  # the same one again: fine
    with pytest.raises(ValueError, match="twice"):
        registry.register(Reaction("start-x", frozenset({"x.requested"}), noop))
    with pytest.raises(ValueError):
        registry.register(Reaction("a:b", frozenset({"x"}), noop))  # ':' separates tracking names
    with pytest.raises(ValueError):
        registry.register(Reaction("none", frozenset(), noop))
