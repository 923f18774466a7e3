"""The command executor's retry loop and idempotency on a real SQLite store, with a concurrent
writer that really interleaves: a store whose ``read`` lets another writer append to the stream
right after our load (so our decision is stale at the write), and one where a second request
with the same idempotency key completes between our key check and our write."""

from __future__ import annotations

import pytest

from domain.errors import ConcurrencyConflict
from domain.events import EventMetadata
from domain.library import models as m
from domain.library import projects as p
from domain.records import NewEvent
from runtime.adapters.sqlite.db import Database
from runtime.adapters.sqlite.event_store import SqliteEventStore
from runtime.services.commands import Caller, Change, execute, execute_many, load

pytestmark = pytest.mark.unit
ALICE = Caller("alice", correlation_id="corr-1", reason="because")
STREAM = "project-p1"


class RacingStore(SqliteEventStore):
    """After each of our first ``races`` loads of the project, bob adds a member to it."""

    races = 0

    def read(self, stream_id, **kw):  # type: ignore[no-untyped-def]
        records = super().read(stream_id, **kw)
        if stream_id == STREAM and self.races > 0 and records:
            self.races -= 1
            evt = p.MemberSet(user_id=f"bob{self.races}", role="viewer")
            super().append(STREAM, [NewEvent.of(evt, EventMetadata(actor="bob"))], records[-1].version)
        return records


@pytest.fixture
def store(tmp_path):
    db = Database(tmp_path / "tlm.db", synchronous="OFF")
    s = RacingStore(db)
    execute(s, p.PROJECTS, "p1", p.CreateProject(project_id="p1", name="组", owner="alice"), ALICE)
    yield s
    db.close()


def add_carol(store: RacingStore, **kw):  # type: ignore[no-untyped-def]
    return execute(store, p.PROJECTS, "p1", p.SetMember(user_id="carol", role="editor"), ALICE, **kw)


@pytest.mark.parametrize("races", [1, 2, 3])
def test_a_conflict_is_decided_again_on_fresh_state_up_to_retries_times(store, races):
    # Given a writer that beats us `races` times, When we may retry that often
    store.races = races
    out = add_carol(store, retries=races)
    # Then our change lands after all of theirs, decided on the state that holds them
    assert out.version == 1 + races + 1 == store.version(STREAM)
    assert set(out.state.members) == {"alice", "carol", *(f"bob{i}" for i in range(races))}
    assert [e.event_type for e in out.events] == ["project.member_set"]
    assert out.result is not None and (out.result.stream_id, out.result.last_version) == (STREAM, out.version)


@pytest.mark.parametrize(("races", "retries"), [(1, 0), (2, 1), (4, 3)])
def test_one_conflict_more_than_the_retries_raises_and_writes_nothing_of_ours(store, races, retries):
    store.races = races
    with pytest.raises(ConcurrencyConflict):
        add_carol(store, retries=retries)
    state, version = load(store, p.PROJECTS, "p1")
    assert "carol" not in state.members and version == 1 + retries + 1  # only bob's writes


def test_events_carry_who_why_and_which_command(store):
    cmd = p.SetMember(user_id="carol", role="editor")
    out = execute(store, p.PROJECTS, "p1", cmd, ALICE)
    (rec,) = store.read(STREAM, after_version=out.version - 1)
    md = rec.metadata
    assert (md.actor, md.correlation_id, md.causation_id, md.reason) == ("alice", "corr-1", cmd.command_id, "because")
    assert (rec.type, rec.data) == ("project.member_set", {"user_id": "carol", "role": "editor"})


def test_a_command_that_decides_nothing_appends_nothing(store):
    add_carol(store)
    again = add_carol(store)
    assert (again.events, again.result, again.version) == ([], None, 2)
    assert again.state.members["carol"] == "editor" and store.version(STREAM) == 2


class KeyRacingStore(SqliteEventStore):
    """Our first keyed write finds that the same request (same key) completed elsewhere just
    after we decided: the twin writes first, then our append runs."""

    raced = False

    def append(self, stream_id, events, expected_version, *, idempotency_key=None):  # type: ignore[no-untyped-def]
        if idempotency_key is not None and not self.raced:
            self.raced = True
            twin = SqliteEventStore(self.db)
            execute(twin, p.PROJECTS, "p1", p.SetMember(user_id="carol", role="editor"), ALICE,
                    idempotency_key=idempotency_key)  # fmt: skip
        return super().append(stream_id, events, expected_version, idempotency_key=idempotency_key)


def test_the_same_key_winning_the_race_is_answered_with_its_result(tmp_path):
    db = Database(tmp_path / "tlm.db", synchronous="OFF")
    try:
        store = KeyRacingStore(db)
        execute(store, p.PROJECTS, "p1", p.CreateProject(project_id="p1", name="组", owner="alice"), ALICE)
        # When our request races its twin under one key (ours decides on the state without it)
        out = execute(store, p.PROJECTS, "p1", p.SetMember(user_id="carol", role="editor"), ALICE,
                      idempotency_key="k1", retries=2)  # fmt: skip
        # Then the twin's write is the answer: no events of ours, its result, the state as it is
        assert out.events == [] and out.result is not None and out.result.duplicate
        assert (out.result.stream_id, out.result.last_version, out.version) == (STREAM, 2, 2)
        assert out.state.members == {"alice": "owner", "carol": "editor"} and store.version(STREAM) == 2
    finally:
        db.close()


def test_a_retried_key_answers_the_first_result_on_the_first_part_only(tmp_path):
    db = Database(tmp_path / "tlm.db", synchronous="OFF")
    try:
        store = SqliteEventStore(db)
        parts = [
            Change(p.PROJECTS, "p1", p.CreateProject(project_id="p1", name="组", owner="alice")),
            Change(m.MODEL_NAMES, "p1.n", m.ClaimName(model_id="m1")),
        ]
        first = execute_many(store, parts, ALICE, idempotency_key="k")
        again = execute_many(store, parts, ALICE, idempotency_key="k")
        assert first[0].result is not None and not first[0].result.duplicate
        assert again[0].result is not None and again[0].result.duplicate and again[1].result is None
        assert [(o.version, o.events) for o in again] == [(1, []), (1, [])]
        assert again[0].state.members == {"alice": "owner"} and again[1].state == "m1"
    finally:
        db.close()


def test_a_planning_function_cannot_take_an_idempotency_key(tmp_path):
    db = Database(tmp_path / "tlm.db", synchronous="OFF")
    try:
        with pytest.raises(ValueError, match="idempotency key"):
            execute_many(SqliteEventStore(db), list, ALICE, idempotency_key="k")
    finally:
        db.close()


def test_without_retries_the_first_conflict_is_the_callers(store, tmp_path):
    # the default is no retry: the caller (e.g. an API client with If-Match) sees the conflict
    store.races = 1
    with pytest.raises(ConcurrencyConflict):
        add_carol(store)
    store.races = 1
    with pytest.raises(ConcurrencyConflict):
        execute_many(store, [Change(p.PROJECTS, "p1", p.SetMember(user_id="dan", role="viewer"))], ALICE)
    assert store.version(STREAM) == 3  # bob's two writes only
