"""The local reactor on a real SQLite log: each reaction keeps its own position; a reaction that
raises stays at that event (retried at the next catch-up, never skipped) while the others go on;
a reaction added later starts from the beginning of the log by itself."""

from __future__ import annotations

from pathlib import Path

import pytest

from domain.events import EventMetadata
from domain.records import NewEvent, RecordedEvent
from runtime.adapters.sqlite.db import Database
from runtime.adapters.sqlite.event_store import SqliteEventStore
from runtime.reactions.local import LocalReactor
from runtime.reactions.registry import Reaction, ReactionRegistry

pytestmark = pytest.mark.integration


def append(store: SqliteEventStore, stream: str, type_: str, n: int = 1) -> None:
    v = store.version(stream)
    events = [NewEvent(type=type_, data={"i": v + i}, metadata=EventMetadata(actor="t")) for i in range(n)]
    store.append(stream, events, v)


def test_each_reaction_keeps_its_place_and_a_failure_blocks_only_itself(tmp_path: Path) -> None:
    db = Database(tmp_path / "tlm.db", synchronous="OFF")
    store = SqliteEventStore(db)
    seen: dict[str, list[tuple[str, int]]] = {"a": [], "b": [], "late": []}
    broken = {"on": True}

    def record(name: str):  # noqa: ANN202
        def handle(e: RecordedEvent) -> None:
            if name == "b" and broken["on"] and e.data["i"] == 1:
                raise RuntimeError("b is down")
            seen[name].append((e.stream_id, e.data["i"]))

        return handle

    a = Reaction("a", frozenset({"x.happened"}), record("a"))
    b = Reaction("b", frozenset({"x.happened", "y.happened"}), record("b"))
    registry = ReactionRegistry([a, b])
    reactor = LocalReactor(db, store, registry, batch_size=2)
    # Given a log with events of two types on two streams
    append(store, "s-1", "x.happened", 3)
    append(store, "s-2", "y.happened", 1)
    append(store, "s-2", "z.ignored", 2)
    # When the reactions catch up while b fails on its second event
    reactor.catch_up()
    # Then a handled every x once, b stopped at its failing event and says so
    assert seen["a"] == [("s-1", 0), ("s-1", 1), ("s-1", 2)]
    assert seen["b"] == [("s-1", 0)] and reactor.failures["b"][1] == "RuntimeError('b is down')"
    positions = reactor.positions()
    assert positions["a"] == 6 and positions["b"] == 1  # a read past the ignored tail too
    # When b recovers and the reactor catches up again (twice)
    broken["on"] = False
    reactor.catch_up()
    reactor.catch_up()
    # Then b resumed at the event that failed and nothing was handled twice
    assert seen["b"] == [("s-1", 0), ("s-1", 1), ("s-1", 2), ("s-2", 0)] and reactor.failures == {}
    assert seen["a"] == [("s-1", 0), ("s-1", 1), ("s-1", 2)]
    # When a reaction is added later, it starts at the beginning by itself
    registry.register(Reaction("late", frozenset({"y.happened"}), record("late")))
    append(store, "s-3", "x.happened")
    reactor.catch_up()
    assert seen["late"] == [("s-2", 0)] and seen["a"][-1] == ("s-3", 0)
    assert set(reactor.positions().values()) == {7}
