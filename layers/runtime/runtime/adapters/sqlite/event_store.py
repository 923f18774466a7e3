"""SQLite event store (the embedded default). See DESIGN.md §4.

One table, global autoincrement ``position``, ``UNIQUE(stream_id, version)``. An append without
an idempotency key is one guarded ``INSERT ... SELECT`` statement (atomic: a write statement holds
the write lock while it checks the version); with a key, the key lookup, version check and inserts
run inside ``BEGIN IMMEDIATE``; so does ``append_batch``, whose every stream is checked and
inserted in that one transaction (a conflict on any stream rolls them all back). Either way a
racing writer sees the new version or waits for the lock, and the unique key backs it up.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from domain.errors import ConcurrencyConflict, Invalid
from domain.events import EventMetadata
from domain.records import AppendResult, NewEvent, RecordedEvent
from runtime.adapters.sqlite.db import Database
from runtime.ports import StreamAppend, check_batch

_COLUMNS = "stream_id, version, position, type, schema_version, data, metadata, recorded_at"
_INSERT_COLUMNS = "stream_id, version, type, schema_version, data, metadata, recorded_at"
# SQL below is assembled from these constants and integers only (never from input): hence the S608 noqa.
_INSERT_SQL = f"INSERT INTO events ({_INSERT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)"  # noqa: S608
_CURRENT_SQL = "SELECT COALESCE(MAX(version), 0) FROM events WHERE stream_id = ?"

_MAX_GUARDED_ROWS = 500  # 7 parameters a row; SQLite allows 32766 per statement


@lru_cache(maxsize=128)
def _guarded_insert_sql(n: int) -> str:
    """INSERT of ``n`` rows that writes nothing unless the stream is at the expected version.
    Parameters: the n rows' 7 values each, then stream_id and expected_version."""
    k = 7 * n
    guard = f"WHERE (SELECT COALESCE(MAX(version), 0) FROM events WHERE stream_id = ?{k + 1}) = ?{k + 2}"  # noqa: S608
    head = f"INSERT INTO events ({_INSERT_COLUMNS}) SELECT"
    if n == 1:
        return f"{head} ?1, ?2, ?3, ?4, ?5, ?6, ?7 {guard}"
    values = ", ".join("(" + ", ".join(f"?{7 * r + c}" for c in range(1, 8)) + ")" for r in range(n))
    cols = ", ".join(f"column{c}" for c in range(1, 8))
    return f"{head} {cols} FROM (VALUES {values}) {guard} ORDER BY column2"


def _dumps(data: dict[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def _rows(stream_id: str, events: Sequence[NewEvent], expected_version: int, now: str) -> list[tuple[Any, ...]]:
    """Encode before any transaction opens: an event that cannot be encoded fails the append
    before anything is written."""
    return [
        (stream_id, expected_version + i, e.type, e.schema_version, _dumps(e.data), e.metadata.model_dump_json(), now)
        for i, e in enumerate(events, start=1)
    ]


def _idempotent(conn: sqlite3.Connection, key: str) -> list[AppendResult] | None:
    found = conn.execute(
        "SELECT stream_id, first_version, last_version, batch FROM idempotency WHERE key = ?", (key,)
    ).fetchone()
    if found is None:
        return None
    parts = json.loads(found[3]) if found[3] else [found[:3]]
    return [AppendResult(stream_id=s, first_version=a, last_version=b, duplicate=True) for s, a, b in parts]


def _add_batch_column(db: Database) -> None:
    """Schema step for databases made before ``append_batch``: the idempotency row of a batch
    keeps every stream's result in ``batch`` (JSON); single appends leave it NULL."""
    conn = db.connection()
    if any(col[1] == "batch" for col in conn.execute("PRAGMA table_info(idempotency)")):
        return
    try:
        conn.execute("ALTER TABLE idempotency ADD COLUMN batch TEXT")
    except sqlite3.OperationalError as exc:  # another store on the same file added it meanwhile
        if "duplicate column" not in str(exc):
            raise


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
        _add_batch_column(db)

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
        rows = _rows(stream_id, events, expected_version, now)
        if idempotency_key is None and len(rows) <= _MAX_GUARDED_ROWS:
            self._append_guarded(stream_id, rows, expected_version)
            return AppendResult(
                stream_id=stream_id, first_version=expected_version + 1, last_version=expected_version + len(rows)
            )
        # with a key, or a batch too big for one statement's parameters: the batch path
        return self._write([(stream_id, rows, expected_version)], idempotency_key, now)[0]

    def append_batch(
        self, appends: Sequence[StreamAppend], *, idempotency_key: str | None = None
    ) -> list[AppendResult]:
        """Every stream's version check and insert inside one BEGIN IMMEDIATE: a conflict on any
        stream rolls the whole transaction back."""
        check_batch(appends, idempotency_key)
        now = datetime.now(UTC).isoformat()
        parts = [
            (a.stream_id, _rows(a.stream_id, a.events, a.expected_version, now), a.expected_version) for a in appends
        ]
        return self._write(parts, idempotency_key, now)

    def _write(
        self, parts: list[tuple[str, list[tuple[Any, ...]], int]], idempotency_key: str | None, now: str
    ) -> list[AppendResult]:
        results = [
            AppendResult(stream_id=s, first_version=expected + 1, last_version=expected + len(rows))
            for s, rows, expected in parts
        ]
        with self.db.transaction() as conn:
            if idempotency_key is not None:
                found = _idempotent(conn, idempotency_key)
                if found is not None:
                    return found
            for stream_id, rows, expected in parts:
                self._insert_checked(conn, stream_id, rows, expected)
            if idempotency_key is not None:
                first = results[0]
                batch = json.dumps([[r.stream_id, r.first_version, r.last_version] for r in results])
                conn.execute(
                    "INSERT INTO idempotency (key, stream_id, first_version, last_version, recorded_at, batch)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (idempotency_key, first.stream_id, first.first_version, first.last_version, now,
                     batch if len(results) > 1 else None),
                )  # fmt: skip
        return results

    def _append_guarded(self, stream_id: str, rows: list[tuple[Any, ...]], expected_version: int) -> None:
        """No idempotency key: ONE autocommit statement, ``INSERT ... SELECT ... WHERE <stream is
        at expected_version>``. A write statement takes the write lock before it reads, so the
        guard and the insert are one atomic step (as under BEGIN IMMEDIATE), with one round trip
        instead of four; the UNIQUE(stream_id, version) key still backs it up."""
        conn = self.db.connection()
        args = [v for row in rows for v in row]
        args += [stream_id, expected_version]
        try:
            inserted = conn.execute(_guarded_insert_sql(len(rows)), args).rowcount
        except sqlite3.IntegrityError:
            raise ConcurrencyConflict(stream_id, expected_version) from None
        if inserted != len(rows):
            # The guard failed, so the statement wrote nothing (a statement is all or nothing).
            raise ConcurrencyConflict(stream_id, expected_version, self.version(stream_id))

    @staticmethod
    def _insert_checked(
        conn: sqlite3.Connection, stream_id: str, rows: list[tuple[Any, ...]], expected_version: int
    ) -> None:
        """Inside an open BEGIN IMMEDIATE transaction: check the version, insert the rows."""
        (current,) = conn.execute(_CURRENT_SQL, (stream_id,)).fetchone()
        if current != expected_version:
            raise ConcurrencyConflict(stream_id, expected_version, current)
        try:
            conn.executemany(_INSERT_SQL, rows)
        except sqlite3.IntegrityError:  # belt and braces: the unique key refuses a lost update
            raise ConcurrencyConflict(stream_id, expected_version) from None

    def idempotent_result(self, idempotency_key: str) -> AppendResult | None:
        """The result of the append that used this key (duplicate=True), or None; for a batch,
        its first stream's."""
        found = _idempotent(self.db.connection(), idempotency_key)
        return found[0] if found else None

    def read(
        self,
        stream_id: str,
        *,
        after_version: int = 0,
        until_version: int | None = None,
        until_time: datetime | None = None,
    ) -> list[RecordedEvent]:
        sql = f"SELECT {_COLUMNS} FROM events WHERE stream_id = ? AND version > ?"  # noqa: S608
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
        (current,) = self.db.connection().execute(_CURRENT_SQL, (stream_id,)).fetchone()
        return int(current)

    def read_all(self, *, after_position: int = 0, limit: int = 1000) -> list[RecordedEvent]:
        rows = self.db.connection().execute(
            f"SELECT {_COLUMNS} FROM events WHERE position > ? ORDER BY position LIMIT ?",  # noqa: S608
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
