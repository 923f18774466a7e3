"""SQLite event store (the embedded default). See DESIGN.md §4.

One table, global autoincrement ``position``, ``UNIQUE(stream_id, version)``. Appends run inside
``BEGIN IMMEDIATE``; the version check and the inserts are one transaction, so a racing writer
either sees the new version or waits for the lock, and the unique key backs it up.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from domain.errors import ConcurrencyConflict, Invalid
from domain.events import EventMetadata
from domain.records import AppendResult, NewEvent, RecordedEvent
from runtime.adapters.sqlite.db import Database

_COLUMNS = "stream_id, version, position, type, schema_version, data, metadata, recorded_at"


def _row_to_event(row: tuple[Any, ...]) -> RecordedEvent:
    stream_id, version, position, type_, schema_version, data, metadata, recorded_at = row
    return RecordedEvent(
        stream_id=stream_id,
        version=version,
        position=position,
        type=type_,
        schema_version=schema_version,
        data=json.loads(data),
        metadata=EventMetadata.model_validate_json(metadata),
        recorded_at=datetime.fromisoformat(recorded_at),
    )


class SqliteEventStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def append(
        self,
        stream_id: str,
        events: Sequence[NewEvent],
        expected_version: int,
        *,
        idempotency_key: str | None = None,
    ) -> AppendResult:
        if not events:
            raise Invalid("nothing to append", field="events")
        if expected_version < 0:
            raise Invalid("expected_version must be >= 0", field="expected_version")
        now = datetime.now(UTC).isoformat()
        with self.db.transaction() as conn:
            if idempotency_key is not None:
                found = conn.execute(
                    "SELECT stream_id, first_version, last_version FROM idempotency WHERE key = ?",
                    (idempotency_key,),
                ).fetchone()
                if found is not None:
                    return AppendResult(
                        stream_id=found[0], first_version=found[1], last_version=found[2], duplicate=True
                    )
            (current,) = conn.execute(
                "SELECT COALESCE(MAX(version), 0) FROM events WHERE stream_id = ?", (stream_id,)
            ).fetchone()
            if current != expected_version:
                raise ConcurrencyConflict(stream_id, expected_version, current)
            rows = [
                (
                    stream_id,
                    expected_version + i,
                    e.type,
                    e.schema_version,
                    json.dumps(e.data, ensure_ascii=False, separators=(",", ":")),
                    e.metadata.model_dump_json(),
                    now,
                )
                for i, e in enumerate(events, start=1)
            ]
            try:
                conn.executemany(
                    "INSERT INTO events (stream_id, version, type, schema_version, data, metadata, recorded_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?)",
                    rows,
                )
            except sqlite3.IntegrityError:  # belt and braces: the unique key refuses a lost update
                raise ConcurrencyConflict(stream_id, expected_version) from None
            last = expected_version + len(events)
            if idempotency_key is not None:
                conn.execute(
                    "INSERT INTO idempotency (key, stream_id, first_version, last_version, recorded_at)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (idempotency_key, stream_id, expected_version + 1, last, now),
                )
        return AppendResult(stream_id=stream_id, first_version=expected_version + 1, last_version=last)

    def read(
        self,
        stream_id: str,
        *,
        after_version: int = 0,
        until_version: int | None = None,
        until_time: datetime | None = None,
    ) -> list[RecordedEvent]:
        sql = f"SELECT {_COLUMNS} FROM events WHERE stream_id = ? AND version > ?"
        args: list[Any] = [stream_id, after_version]
        if until_version is not None:
            sql += " AND version <= ?"
            args.append(until_version)
        sql += " ORDER BY version"
        events = [_row_to_event(r) for r in self.db.connection().execute(sql, args)]
        if until_time is not None:
            # metadata.occurred_at is the domain time; recorded_at the store's. "As of T" means
            # what the log held at T, i.e. recorded_at.
            events = [e for e in events if e.recorded_at <= until_time]
        return events

    def version(self, stream_id: str) -> int:
        (current,) = (
            self.db.connection()
            .execute("SELECT COALESCE(MAX(version), 0) FROM events WHERE stream_id = ?", (stream_id,))
            .fetchone()
        )
        return int(current)

    def read_all(self, *, after_position: int = 0, limit: int = 1000) -> list[RecordedEvent]:
        rows = self.db.connection().execute(
            f"SELECT {_COLUMNS} FROM events WHERE position > ? ORDER BY position LIMIT ?",
            (after_position, limit),
        )
        return [_row_to_event(r) for r in rows]

    def iter_all(self, *, page: int = 1000) -> Iterator[RecordedEvent]:
        """Every event of every stream in commit (position) order, so each stream is in version
        order. Pages by position: no read transaction is held open between pages."""
        after = 0
        while True:
            batch = self.read_all(after_position=after, limit=page)
            yield from batch
            if len(batch) < page:
                return
            after = batch[-1].position or after
