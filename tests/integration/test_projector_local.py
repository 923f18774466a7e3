"""Local projector on a real SQLite file: live views (interleaved catch-ups) equal a rebuild and
the reference fold at every step; row hooks share the transaction; a failing projection stops
at its event with everything before it committed; new views catch up by themselves; the
background thread follows appends."""

from __future__ import annotations

import random
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from _crash_writer import ITEMS, NAMES, PROJECTIONS, ItemsView, ItemWriter, NamesView
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.projection import Row, fold_all
from domain.records import RecordedEvent
from runtime.adapters.sqlite.db import Database
from runtime.adapters.sqlite.event_store import SqliteEventStore
from runtime.adapters.sqlite.views import LocalProjector, ProjectionFailed, SqliteViewStore

pytestmark = pytest.mark.integration


def log_of(store: SqliteEventStore, upto: int | None = None) -> list[RecordedEvent]:
    events = store.read_all(limit=10**9)
    return [e for e in events if upto is None or (e.position or 0) <= upto]


def views_of(store: SqliteViewStore, view: str) -> dict[str, Row]:
    return dict(store.scan(view))


def expected(events: list[RecordedEvent]) -> dict[str, dict[str, Row]]:
    return {p.view: fold_all(p, events) for p in PROJECTIONS}


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(tmp_path / "tlm.db", synchronous="OFF")
    yield database
    database.close()


def fill(db: Database, n_batches: int, seed: int = 7) -> SqliteEventStore:
    store, writer = SqliteEventStore(db), ItemWriter(random.Random(seed))
    for _ in range(n_batches):
        store.append(*writer.next_batch())
    return store


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**20),
    plan=st.lists(st.tuples(st.integers(1, 4), st.integers(0, 12)), min_size=1, max_size=12),
    batch_size=st.integers(1, 9),
)
def test_live_views_equal_rebuild_and_reference_fold(
    seed: int, plan: list[tuple[int, int]], batch_size: int
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(Path(tmp) / "tlm.db", synchronous="OFF")
        try:
            store, writer = SqliteEventStore(db), ItemWriter(random.Random(seed))
            views = SqliteViewStore(db)
            projector = LocalProjector(db, views, PROJECTIONS, batch_size=batch_size)
            # Given appends interleaved with partial catch-ups
            for appends, catch in plan:
                for _ in range(appends):
                    store.append(*writer.next_batch())
                projector.catch_up(max_events=catch)
                # Then at every step the views are exactly the fold of the log up to the position
                pos = projector.position()
                assert {v: views_of(views, v) for v in (ITEMS, NAMES)} == expected(log_of(store, pos))
            # When it catches up fully, and again (nothing left), then rebuilds
            projector.catch_up()
            assert projector.catch_up() == 0
            live = {v: views_of(views, v) for v in (ITEMS, NAMES)}
            assert live == expected(log_of(store))
            projector.rebuild()
            assert {v: views_of(views, v) for v in (ITEMS, NAMES)} == live
        finally:
            db.close()


def test_row_hooks_run_inside_the_projector_transaction(db: Database) -> None:
    # Given a secondary index kept by a row hook, and a hook that fails on one row
    db.connection().execute("CREATE TABLE side (view TEXT, key TEXT, present INT, PRIMARY KEY (view, key))")
    fail_on: set[str] = set()

    def index(conn, view: str, key: str, row: Row | None) -> None:  # type: ignore[no-untyped-def]
        assert conn.in_transaction
        if key in fail_on:
            raise RuntimeError("index down")
        conn.execute("INSERT OR REPLACE INTO side VALUES (?, ?, ?)", (view, key, row is not None))

    def wipe(conn, view: str) -> None:  # type: ignore[no-untyped-def]
        conn.execute("DELETE FROM side WHERE view = ?", (view,))

    views = SqliteViewStore(db, row_hooks=[index], clear_hooks=[wipe])
    projector = LocalProjector(db, views, [ItemsView()], batch_size=50)
    store = fill(db, 30)
    # When the hook fails for item i2
    fail_on.add("i2")
    with pytest.raises(ProjectionFailed) as failed:
        projector.catch_up()
    # Then the events before the failing one are committed, with their index rows, and no more
    pos = projector.position()
    assert pos == failed.value.position - 1  # type: ignore[operator]
    assert side_rows(db) == view_rows(db)
    assert views_of(views, ITEMS) == fold_all(ItemsView(), log_of(store, pos))
    # When the hook recovers, the projector resumes from where it stopped
    fail_on.clear()
    projector.catch_up()
    assert views_of(views, ITEMS) == fold_all(ItemsView(), log_of(store))
    # And a rebuild clears the index through the clear hook and refills it with the rows
    db.connection().execute("INSERT INTO side VALUES (?, 'stale', 1)", (ITEMS,))
    projector.rebuild()
    assert side_rows(db) == view_rows(db)


def side_rows(db: Database) -> dict[tuple[str, str], bool]:
    return {(v, k): bool(p) for v, k, p in db.connection().execute("SELECT view, key, present FROM side")}


def view_rows(db: Database) -> dict[tuple[str, str], bool]:
    sql = "SELECT view, key, row IS NOT NULL FROM views"
    return {(v, k): bool(p) for v, k, p in db.connection().execute(sql)}


class Fussy(NamesView):
    def __init__(self, bad_name: str) -> None:
        self.bad_name = bad_name

    def apply(self, key: str, row: Row | None, evt: RecordedEvent) -> Row | None:
        if key == self.bad_name:
            raise ValueError("cannot project this")
        return super().apply(key, row, evt)


def test_a_failing_projection_stops_at_its_event_and_resumes_when_fixed(db: Database) -> None:
    store = fill(db, 40)
    views = SqliteViewStore(db)
    bad = Fussy("c")
    projector = LocalProjector(db, views, [ItemsView(), bad], batch_size=16)
    with pytest.raises(ProjectionFailed) as failed:
        projector.catch_up()
    culprit = next(e for e in log_of(store) if e.position == failed.value.position)
    assert "c" in bad.keys(culprit)
    assert projector.positions() == {ITEMS: culprit.position - 1, NAMES: culprit.position - 1}  # type: ignore[operator]
    bad.bad_name = "none"  # fixed
    projector.catch_up()
    assert {v: views_of(views, v) for v in (ITEMS, NAMES)} == expected(log_of(store))


def test_a_view_added_later_catches_up_by_itself(db: Database) -> None:
    store = fill(db, 25)
    views = SqliteViewStore(db)
    LocalProjector(db, views, [ItemsView()]).catch_up()
    fill_more = ItemWriter(random.Random(99))
    fill_more.ids = ["late"]
    store.append(*fill_more.next_batch())
    both = LocalProjector(db, views, PROJECTIONS)
    assert both.positions()[NAMES] == 0
    both.catch_up()
    assert {v: views_of(views, v) for v in (ITEMS, NAMES)} == expected(log_of(store))
    assert len(set(both.positions().values())) == 1


def test_rebuild_of_one_view_keeps_the_other_and_reads_match(db: Database) -> None:
    store = fill(db, 30)
    views = SqliteViewStore(db)
    projector = LocalProjector(db, views, PROJECTIONS)
    projector.catch_up()
    before_items = views_of(views, ITEMS)
    db.connection().execute("UPDATE views SET row = '{\"junk\":1}' WHERE view = ?", (NAMES,))
    projector.rebuild([NAMES])
    assert views_of(views, NAMES) == fold_all(NamesView(), log_of(store))
    assert views_of(views, ITEMS) == before_items
    # reads: get and prefix scan
    some_key = next(iter(before_items))
    assert views.get(ITEMS, some_key) == before_items[some_key]
    assert views.get(ITEMS, "missing") is None
    assert dict(views.scan(ITEMS, prefix="i1")) == {
        k: r for k, r in before_items.items() if k.startswith("i1")
    }


def test_tombstones_are_hidden_from_reads_but_keep_versions(db: Database) -> None:
    from _crash_writer import META, ItemCreated, ItemDeleted

    from domain.records import NewEvent

    store = SqliteEventStore(db)
    store.append(
        "item-x", [NewEvent.of(ItemCreated(name="a"), META), NewEvent.of(ItemDeleted(name="a"), META)], 0
    )
    views = SqliteViewStore(db)
    LocalProjector(db, views, PROJECTIONS).catch_up()
    assert views.get(ITEMS, "x") is None and dict(views.scan(ITEMS)) == {}
    tomb = views.load(ITEMS, "x")
    assert tomb is not None and tomb.row is None and tomb.versions == {"item-x": 2}


def test_background_thread_follows_appends_and_stops(db: Database) -> None:
    views = SqliteViewStore(db)
    projector = LocalProjector(db, views, PROJECTIONS)
    thread = projector.start(poll_interval=5.0)  # long poll: notify() must wake it
    store = fill(db, 10)
    projector.notify()
    head = log_of(store)[-1].position
    deadline = time.monotonic() + 5
    while projector.position() < head and time.monotonic() < deadline:  # type: ignore[operator]
        time.sleep(0.01)
    assert projector.position() == head
    projector.stop()
    assert not thread.is_alive()
    assert {v: views_of(views, v) for v in (ITEMS, NAMES)} == expected(log_of(store))


def test_concurrent_catch_ups_apply_each_event_once(db: Database) -> None:
    store = fill(db, 60)
    views = SqliteViewStore(db)
    projector = LocalProjector(db, views, PROJECTIONS, batch_size=5)
    threads = [threading.Thread(target=projector.catch_up) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert {v: views_of(views, v) for v in (ITEMS, NAMES)} == expected(log_of(store))
