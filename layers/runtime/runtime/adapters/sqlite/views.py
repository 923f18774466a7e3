"""SQLite read views and the local projector (DESIGN.md §4: views and the tracking position
commit in one transaction, so each event's effects land exactly once).

- ``SqliteViewStore``: the ``ViewStore`` port over the ``views`` table (row JSON, NULL for a
  tombstone, plus a per-stream ``versions`` map). Row hooks ``(conn, view, key, row)`` run inside
  the same transaction as every row write (row None = deleted), clear hooks ``(conn, view)``
  when a view is cleared: that is where a secondary index (e.g. full-text search) keeps in step.
- ``LocalProjector``: tails the event log (``read_all`` by position) and applies each event to
  the registered projections. Each view has its own tracking row (``view:<name>``), so a view
  added later starts from position 0 by itself, and ``rebuild(views)`` is simply "clear the
  views and reset their tracking rows" in one transaction followed by a catch-up.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from domain.projection import Projection, Row
from runtime import projections as registry
from runtime.adapters.sqlite.db import Database
from runtime.adapters.sqlite.event_store import SqliteEventStore
from runtime.ports import ViewRecord
from runtime.projector import apply_event
from runtime.search.query import Lookup
from runtime.views import layout

log = logging.getLogger(__name__)

RowHook = Callable[[sqlite3.Connection, str, str, Row | None], None]
ClearHook = Callable[[sqlite3.Connection, str], None]

_PAGE = 500
_ROW_CACHE = 4096


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


class SqliteViewStore:
    """Views in the shared SQLite database. Reads use the calling thread's connection, so inside
    ``db.transaction()`` they see that transaction's writes."""

    def __init__(
        self, db: Database, *, row_hooks: Sequence[RowHook] = (), clear_hooks: Sequence[ClearHook] = ()
    ):
        self.db = db
        self.row_hooks: list[RowHook] = list(row_hooks)
        self.clear_hooks: list[ClearHook] = list(clear_hooks)
        self._rows: dict[tuple[str, str], tuple[str, Row]] = {}
        for view, attr in layout.PARTITIONS.items():  # scan_partition's expression indexes
            db.connection().execute(
                f"CREATE INDEX IF NOT EXISTS views_part_{view} ON views"  # noqa: S608 - names from layout
                f" (view, json_extract(row, '$.{attr}'), key)"
            )

    def add_row_hook(self, hook: RowHook) -> None:
        self.row_hooks.append(hook)

    def add_clear_hook(self, hook: ClearHook) -> None:
        self.clear_hooks.append(hook)

    # -- ViewStore port
    def get(self, view: str, key: str) -> Row | None:
        found = (
            self.db.connection()
            .execute("SELECT row FROM views WHERE view = ? AND key = ?", (view, key))
            .fetchone()
        )
        return None if found is None or found[0] is None else dict(json.loads(found[0]))

    def scan(self, view: str, *, prefix: str | None = None) -> Iterator[tuple[str, Row]]:
        """Live rows (no tombstones) in key order, paged so that a long scan holds no cursor."""
        after = ""
        conn = self.db.connection()
        while True:
            sql = "SELECT key, row FROM views WHERE view = ? AND key > ? AND row IS NOT NULL"
            args: list[Any] = [view, after]
            if prefix:
                sql += " AND substr(key, 1, ?) = ?"
                args += [len(prefix), prefix]
            page = conn.execute(sql + " ORDER BY key LIMIT ?", [*args, _PAGE]).fetchall()
            for key, row in page:
                yield key, dict(json.loads(row))
            if len(page) < _PAGE:
                return
            after = page[-1][0]

    def scan_partition(
        self, view: str, partition: str, *, lookups: Sequence[Sequence[Lookup]] | None = None
    ) -> Iterator[tuple[str, Row]]:
        """Live rows of one partition (``runtime.views.layout``) in key order, through the
        expression index. ``lookups`` are accepted and ignored: the caller checks every row
        (``search_rows``), and a partition's rows are few enough to read (ADR 0002)."""
        attr = layout.PARTITIONS.get(view)
        if attr is None:
            raise ValueError(f"view {view!r} is not partitioned")
        rows = (
            self.db.connection()
            .execute(
                f"SELECT key, row FROM views INDEXED BY views_part_{view}"  # noqa: S608 - names from layout
                f" WHERE view = ? AND json_extract(row, '$.{attr}') = ? AND row IS NOT NULL ORDER BY key",
                (view, partition),
            )
            .fetchall()
        )
        for key, row in rows:
            yield key, self._parsed(view, key, row)

    def _parsed(self, view: str, key: str, text: str) -> Row:
        """Parsed row, memoised on its exact JSON text (never stale: the text is compared); a
        shallow copy, so callers may add fields. Bounded (a warm project costs no json.loads)."""
        cached = self._rows.get((view, key))
        if cached is None or cached[0] != text:
            if len(self._rows) >= _ROW_CACHE:
                with contextlib.suppress(RuntimeError, StopIteration):  # another thread trimmed it
                    self._rows.pop(next(iter(self._rows)), None)
            cached = self._rows[(view, key)] = (text, dict(json.loads(text)))
        return dict(cached[1])

    def clear(self, view: str) -> None:
        conn = self.db.connection()
        if conn.in_transaction:
            self._clear(conn, view)
        else:
            with self.db.transaction() as tx:
                self._clear(tx, view)

    def _clear(self, conn: sqlite3.Connection, view: str) -> None:
        conn.execute("DELETE FROM views WHERE view = ?", (view,))
        for hook in self.clear_hooks:
            hook(conn, view)

    # -- projector target (runtime.projector.ViewTarget); call inside db.transaction()
    def load(self, view: str, key: str) -> ViewRecord | None:
        found = (
            self.db.connection()
            .execute("SELECT row, versions FROM views WHERE view = ? AND key = ?", (view, key))
            .fetchone()
        )
        if found is None:
            return None
        row = None if found[0] is None else dict(json.loads(found[0]))
        return ViewRecord(view=view, key=key, row=row, versions=dict(json.loads(found[1])))

    def save(self, record: ViewRecord, previous: ViewRecord | None) -> bool:
        """Upsert; inside the projector's write transaction nobody else can change the row."""
        conn = self.db.connection()
        conn.execute(
            "INSERT INTO views (view, key, row, versions) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (view, key) DO UPDATE SET row = excluded.row, versions = excluded.versions",
            (
                record.view,
                record.key,
                None if record.row is None else _dumps(record.row),
                _dumps(record.versions),
            ),
        )
        for hook in self.row_hooks:
            hook(conn, record.view, record.key, record.row)
        return True


class ProjectionFailed(RuntimeError):
    """A projection raised on the event at ``position``; everything before it is committed."""

    def __init__(self, position: int | None, cause: BaseException) -> None:
        super().__init__(f"projection failed at log position {position}: {cause!r}")
        self.position = position


class LocalProjector:
    """Tails the SQLite log into the views. ``catch_up()`` is safe to call from any thread or
    process at any time (each batch is one BEGIN IMMEDIATE transaction that reads the tracking
    rows, the events after them, writes the rows and moves the tracking rows), e.g. right after
    an append for read-your-writes, while ``start()``'s background thread also runs."""

    def __init__(
        self,
        db: Database,
        store: SqliteViewStore | None = None,
        projections: Sequence[Projection] | None = None,
        *,
        batch_size: int = 200,
    ) -> None:
        self.db = db
        self.store = store if store is not None else SqliteViewStore(db)
        self.projections = list(projections) if projections is not None else registry.all()
        self.events = SqliteEventStore(db)
        self.batch_size = batch_size
        self._wake = threading.Event()
        self._stop: threading.Event | None = None
        self._thread: threading.Thread | None = None

    @staticmethod
    def tracking_name(view: str) -> str:
        return f"view:{view}"

    def positions(self) -> dict[str, int]:
        """Last log position applied, per view."""
        return self._positions(self.db.connection())

    def _positions(self, conn: sqlite3.Connection) -> dict[str, int]:
        names = {self.tracking_name(p.view): p.view for p in self.projections}
        found = dict(conn.execute("SELECT projector, position FROM tracking").fetchall())  # a few rows
        return {view: int(found.get(name, 0)) for name, view in names.items()}

    def position(self) -> int:
        """The position every view has reached (the slowest view's)."""
        return min(self.positions().values(), default=0)

    def _batch(self, limit: int) -> int:
        """Apply up to ``limit`` events in one transaction; returns how many were read."""
        with self.db.transaction() as conn:
            positions = self._positions(conn)
            if not positions:
                return 0
            events = self.events.read_all(after_position=min(positions.values()), limit=limit)
            for event in events:
                assert event.position is not None  # noqa: S101 - SQLite always has positions
                behind = [p for p in self.projections if positions[p.view] < event.position]
                try:
                    apply_event(self.store, behind, event)
                except Exception as exc:
                    raise ProjectionFailed(event.position, exc) from exc
            if events:
                last = events[-1].position
                conn.executemany(
                    "INSERT INTO tracking (projector, position) VALUES (?, ?)"
                    " ON CONFLICT (projector) DO UPDATE SET position = excluded.position",
                    [(self.tracking_name(v), max(pos, last)) for v, pos in positions.items()],  # type: ignore[type-var]
                )
            return len(events)

    def catch_up(self, *, max_events: int | None = None) -> int:
        """Apply every event not yet applied (or up to ``max_events``); returns events read.
        If a projection raises, the events before the failing one are committed and
        ProjectionFailed is raised (the projector stays stuck there: errors are not skipped)."""
        total = 0
        while max_events is None or total < max_events:
            limit = self.batch_size if max_events is None else min(self.batch_size, max_events - total)
            try:
                n = self._batch(limit)
            except ProjectionFailed:
                if limit == 1:
                    raise
                for _ in range(limit):  # commit the good prefix one event at a time, then raise
                    n = self._batch(1)
                    total += n
                    if n == 0:
                        break
                continue
            if n == 0:
                break
            total += n
        return total

    def rebuild(self, views: Sequence[str] | None = None) -> int:
        """Clear ``views`` (default: all of this projector's) and replay the whole log into
        them. The clear and the tracking reset commit together, so a crash mid-rebuild just
        resumes on the next catch-up. Readers see the views fill up again during the replay."""
        chosen = registry.select(self.projections, None if views is None else list(views))
        with self.db.transaction() as conn:
            for projection in chosen:
                self.store.clear(projection.view)
                conn.execute(
                    "DELETE FROM tracking WHERE projector = ?", (self.tracking_name(projection.view),)
                )
        return self.catch_up()

    def notify(self) -> None:
        """Wake the background thread now (e.g. after an append) instead of at the next poll."""
        self._wake.set()

    def run_forever(self, stop: threading.Event, poll_interval: float = 0.5) -> None:
        """Catch up, then wait for ``notify()`` or ``poll_interval``; until ``stop`` is set. A
        failing projection is logged and retried at the next poll (never skipped)."""
        while not stop.is_set():
            try:
                self.catch_up()
            except Exception:
                log.exception("local projector: catch-up failed; retrying in %.1fs", poll_interval)
            self._wake.wait(poll_interval)
            self._wake.clear()

    def start(self, poll_interval: float = 0.5) -> threading.Thread:
        """Run ``run_forever`` in a daemon thread; ``stop()`` ends it."""
        if self._thread is not None and self._thread.is_alive():
            return self._thread
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self.run_forever, args=(self._stop, poll_interval), name="tlm-projector", daemon=True
        )
        self._thread.start()
        return self._thread

    def stop(self, timeout: float = 5.0) -> None:
        if self._stop is not None:
            self._stop.set()
            self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._thread = None
