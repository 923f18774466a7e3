"""A workflow run as the local runner records it (``workflowrun-<id>`` events), appended to the
platform's SQLite log from outside the server: the server's projector picks it up into the
``runs`` view like any run. Steps: Prepare ok, Train failed then retried ok, Register ok."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from domain.events import EventMetadata
from domain.records import NewEvent
from domain.workflows import events as ev


def seed_run(data_dir: Path, run_id: str, project_id: str) -> None:
    from runtime.adapters.sqlite.db import Database
    from runtime.adapters.sqlite.event_store import SqliteEventStore

    t0 = datetime.now(UTC) - timedelta(minutes=5)
    steps = [
        ev.RunStarted(run_id=run_id, workflow="train", input={"project_id": project_id}),
        ev.StepStarted(step="Prepare", attempt=1),
        ev.StepSucceeded(step="Prepare", attempt=1, document={}, next="Train"),
        ev.StepStarted(step="Train", attempt=1),
        ev.StepFailed(step="Train", attempt=1, error="TLM.JobFailed", cause="out of memory"),
        ev.StepStarted(step="Train", attempt=2),
        ev.StepSucceeded(step="Train", attempt=2, document={}, next="Register"),
        ev.StepStarted(step="Register", attempt=1),
        ev.StepSucceeded(step="Register", attempt=1, document={}, next=None),
        ev.RunSucceeded(output={}),
    ]
    events = [
        NewEvent.of(e, EventMetadata(actor="local", occurred_at=t0 + timedelta(seconds=7 * n)))
        for n, e in enumerate(steps)
    ]
    db = Database(data_dir / "tlm.db")
    try:
        SqliteEventStore(db).append(f"workflowrun-{run_id}", events, 0)
    finally:
        db.close()
