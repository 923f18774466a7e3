"""The SQLite event store's own parts the backend contract does not reach: its schema step when
another store on the same file takes it at the same moment, and the global reads' defaults."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from domain.events import EventMetadata
from domain.records import NewEvent
from runtime.adapters.sqlite.db import Database
from runtime.adapters.sqlite.event_store import SqliteEventStore
from runtime.ports import StreamAppend

pytestmark = pytest.mark.unit


def ev(n: int) -> NewEvent:
    return NewEvent(type="test.happened", data={"n": n}, metadata=EventMetadata(actor="tester"))


def columns(conn: sqlite3.Connection) -> list[str]:
    return [c[1] for c in conn.execute("PRAGMA table_info(idempotency)")]


def test_a_store_opens_when_another_adds_the_batch_column_between_its_check_and_its_alter(tmp_path: Path) -> None:
    # Given a database made before append_batch (no idempotency.batch column)
    db = Database(tmp_path / "tlm.db")
    conn = db.connection()
    assert "batch" not in columns(conn)
    # When another store on the same file adds the column just as this one's ALTER starts (real
    # SQLite: the ALTER then fails with "duplicate column name")
    def other_store_first(sql: str) -> None:
        if sql.startswith("ALTER TABLE idempotency"):
            conn.set_trace_callback(None)
            other = sqlite3.connect(db.path, isolation_level=None, timeout=30)
            other.execute("ALTER TABLE idempotency ADD COLUMN batch TEXT")
            other.close()

    conn.set_trace_callback(other_store_first)
    store = SqliteEventStore(db)
    conn.set_trace_callback(None)
    # Then the store works, idempotent batches included
    assert columns(conn).count("batch") == 1
    parts = [StreamAppend("a", [ev(1)], 0), StreamAppend("b", [ev(2)], 0)]
    assert [r.duplicate for r in store.append_batch(parts, idempotency_key="k")] == [False, False]
    again = store.append_batch(parts, idempotency_key="k")
    assert [(r.stream_id, r.last_version, r.duplicate) for r in again] == [("a", 1, True), ("b", 1, True)]


def test_global_reads_start_at_the_first_event_and_take_keywords_only(tmp_path: Path) -> None:
    store = SqliteEventStore(Database(tmp_path / "tlm.db"))
    store.append("a", [ev(1), ev(2)], 0)
    store.append("b", [ev(3)], 0)
    assert [e.data["n"] for e in store.read_all()] == [1, 2, 3]
    assert [e.data["n"] for e in store.iter_all(page=2)] == [1, 2, 3]
    with pytest.raises(TypeError):
        store.iter_all(2)  # type: ignore[misc]
    with pytest.raises(TypeError):
        store.read_all(0)  # type: ignore[misc]
