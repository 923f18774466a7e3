"""``execute_many``: several aggregates decided and appended in one all-or-nothing write, on a
real SQLite store (conflict re-decide, idempotency key, parts that decide nothing); and the SQLite
store's schema step for databases made before ``append_batch``."""

from __future__ import annotations

import pytest

from domain.errors import ConcurrencyConflict, Conflict
from domain.events import EventMetadata
from domain.library import models as m
from domain.library import projects as p
from domain.records import NewEvent
from runtime.adapters.sqlite.db import Database
from runtime.adapters.sqlite.event_store import SqliteEventStore
from runtime.services.commands import Caller, Change, execute_many

pytestmark = pytest.mark.unit
ALICE = Caller("alice")


@pytest.fixture
def store(tmp_path):
    db = Database(tmp_path / "tlm.db", synchronous="OFF")
    yield SqliteEventStore(db)
    db.close()


def changes(model_id: str) -> list[Change]:
    return [
        Change(p.PROJECTS, "p1", p.CreateProject(project_id="p1", name="组", owner="alice")),
        Change(m.MODEL_NAMES, "p1.n", m.ClaimName(model_id=model_id)),
    ]


def test_parts_commit_together_and_a_key_answers_a_retry(store):
    # Given two aggregates changed by one command under an idempotency key
    outs = execute_many(store, changes("m1"), ALICE, idempotency_key="k1")
    assert [o.version for o in outs] == [1, 1] and outs[1].state == "m1"
    assert outs[0].result.stream_id == "project-p1" and outs[1].result.stream_id == "modelname-p1.n"
    # When the client retries it (decide alone would now refuse: the project exists)
    again = execute_many(store, changes("m1"), ALICE, idempotency_key="k1")
    # Then it gets the first answer, and nothing more was written to either stream
    assert [o.events for o in again] == [[], []] and again[0].result.duplicate
    assert (store.version("project-p1"), store.version("modelname-p1.n")) == (1, 1)


def test_a_conflict_on_one_part_writes_no_part_and_a_retry_decides_again(store):
    # Given a name already claimed by someone else after our plan was made
    store.append("modelname-p1.n", [NewEvent.of(m.NameClaimed(model_id="other"), EventMetadata(actor="bob"))], 0)
    racing = [
        Change(p.PROJECTS, "p1", p.CreateProject(project_id="p1", name="组", owner="alice")),
        Change(m.MODEL_NAMES, "p1.n", m.ClaimName(model_id="m1")),
    ]
    # When both are decided against the fresh state: the claim is refused, nothing is written
    with pytest.raises(Conflict):
        execute_many(store, racing, ALICE, retries=2)
    assert store.version("project-p1") == 0
    # And a stale plan (decided before the other claim) conflicts as a whole at the write
    from runtime.services.commands import commit, decide

    stale = [decide(store, p.PROJECTS, "p2", p.CreateProject(project_id="p2", name="组", owner="alice")),
             decide(store, m.MODEL_NAMES, "p2.n", m.ClaimName(model_id="m2"))]  # fmt: skip
    store.append("modelname-p2.n", [NewEvent.of(m.NameClaimed(model_id="x"), EventMetadata(actor="bob"))], 0)
    with pytest.raises(ConcurrencyConflict):
        commit(store, stale, ALICE)
    assert store.version("project-p2") == 0


def test_a_part_that_decides_nothing_is_not_written(store):
    execute_many(store, changes("m1"), ALICE)
    outs = execute_many(
        store,
        [
            Change(m.MODEL_NAMES, "p1.n", m.ClaimName(model_id="m1")),
            Change(m.MODEL_NAMES, "p1.o", m.ClaimName(model_id="m1")),
        ],
        ALICE,
    )
    assert [(o.result is None, o.version) for o in outs] == [(True, 1), (False, 1)]


def test_a_database_from_before_append_batch_gets_the_batch_column(tmp_path):
    # Given a database whose idempotency table predates batches, with a key already used
    import sqlite3

    path = tmp_path / "old.db"
    old = sqlite3.connect(path)
    old.executescript(
        "CREATE TABLE idempotency (key TEXT PRIMARY KEY, stream_id TEXT NOT NULL, first_version INTEGER NOT NULL,"
        " last_version INTEGER NOT NULL, recorded_at TEXT NOT NULL);"
        "INSERT INTO idempotency VALUES ('old-key', 's-1', 1, 2, '2026-01-01T00:00:00+00:00');"
    )
    old.close()
    # When the store opens it (twice, as two processes would)
    db = Database(path)
    store, _again = SqliteEventStore(db), SqliteEventStore(db)
    # Then old keys still answer and batches can use keys
    assert store.idempotent_result("old-key").last_version == 2
    from runtime.ports import StreamAppend

    meta = EventMetadata(actor="t")
    results = store.append_batch(
        [StreamAppend("a", [NewEvent(type="t.x", data={}, metadata=meta)], 0),
         StreamAppend("b", [NewEvent(type="t.x", data={}, metadata=meta)], 0)],
        idempotency_key="new-key",
    )  # fmt: skip
    assert [r.stream_id for r in results] == ["a", "b"]
    assert store.idempotent_result("new-key").stream_id == "a"
    db.close()
