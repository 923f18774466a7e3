"""Test history shared by the projector integration tests, and the child process of the crash
test (``python _crash_writer.py DB_PATH SEED``).

The events describe "items", one stream per item (``item-<id>``): created, incremented, renamed,
deleted. Every event carries ``batch`` (the id of the append that wrote it) and ``size`` (how many
events that append wrote), so a reader can tell a partial commit. Two projections:
``t_items`` (one row per item, deleted -> tombstone) and ``t_names`` (one row per name, listing
the items that carry it; renames touch two rows, rows are shared by several streams and fold
commutatively across streams, as DynamoDB Streams needs).

As a child process it appends multi-event batches in a loop through ``SqliteEventStore`` with a
``LocalProjector`` thread catching up alongside (and an explicit ``catch_up`` every few
appends), until it is killed.
"""

from __future__ import annotations

import random
import sys
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

if __name__ == "__main__":  # run as a script: make the repo importable
    sys.path[:0] = [
        str(Path(__file__).resolve().parents[2]),
        str(Path(__file__).resolve().parents[2] / "layers/runtime"),
    ]

from domain.events import DomainEvent, EventMetadata, event
from domain.projection import Row
from domain.records import NewEvent, RecordedEvent

ITEMS = "t_items"
NAMES = "t_names"


@event("t_item.created")
class ItemCreated(DomainEvent):
    name: str
    batch: str = ""
    size: int = 1


@event("t_item.incremented")
class ItemIncremented(DomainEvent):
    by: int
    batch: str = ""
    size: int = 1


@event("t_item.renamed")
class ItemRenamed(DomainEvent):
    old: str
    new: str
    batch: str = ""
    size: int = 1


@event("t_item.deleted")
class ItemDeleted(DomainEvent):
    name: str
    batch: str = ""
    size: int = 1


def item_id(stream_id: str) -> str:
    return stream_id.split("-", 1)[1]


class ItemsView:
    view = ITEMS

    def keys(self, evt: RecordedEvent) -> Sequence[str]:
        return [item_id(evt.stream_id)] if evt.type.startswith("t_item.") else []

    def apply(self, key: str, row: Row | None, evt: RecordedEvent) -> Row | None:
        d = evt.data
        if evt.type == "t_item.created":
            return {"name": d["name"], "count": 0, "log": [evt.version]}
        if row is None:  # events after a deletion change nothing
            return None
        if evt.type == "t_item.incremented":
            return {**row, "count": row["count"] + d["by"], "log": [*row["log"], evt.version]}
        if evt.type == "t_item.renamed":
            return {**row, "name": d["new"], "log": [*row["log"], evt.version]}
        if evt.type == "t_item.deleted":
            return None
        return row


class NamesView:
    view = NAMES

    def keys(self, evt: RecordedEvent) -> Sequence[str]:
        d = evt.data
        if evt.type == "t_item.created":
            return [d["name"]]
        if evt.type == "t_item.renamed":
            return [d["old"], d["new"]]
        if evt.type == "t_item.deleted":
            return [d["name"]]
        return []

    def apply(self, key: str, row: Row | None, evt: RecordedEvent) -> Row | None:
        ids = dict((row or {}).get("ids", {}))
        me = item_id(evt.stream_id)
        d = evt.data
        if evt.type == "t_item.created" or (evt.type == "t_item.renamed" and key == d["new"]):
            ids[me] = evt.version
        else:  # renamed away from this name, or deleted
            ids.pop(me, None)
        return {"ids": ids} if ids else None


PROJECTIONS = [ItemsView(), NamesView()]
META = EventMetadata(actor="test")


class ItemWriter:
    """Generates valid batches for a few items, as ``append`` arguments:
    (stream_id, [NewEvent], expected_version)."""

    def __init__(self, rng: random.Random, n_items: int = 4) -> None:
        self.rng = rng
        self.ids = [f"i{n}" for n in range(n_items)]
        self.state: dict[str, dict[str, Any]] = {}  # id -> {"version", "name", "deleted"}

    def next_batch(self) -> tuple[str, list[NewEvent], int]:
        rng = self.rng
        item = rng.choice(self.ids)
        st = self.state.get(item)
        batch, size = uuid.uuid4().hex[:12], rng.randint(1, 5)
        evts: list[DomainEvent] = []
        name = st["name"] if st else None
        deleted = bool(st and st["deleted"])
        for i in range(size):
            tag = {"batch": batch, "size": size}
            if st is None and i == 0:
                name = rng.choice("abcde")
                evts.append(ItemCreated(name=name, **tag))
            elif deleted or rng.random() < 0.55:
                evts.append(ItemIncremented(by=rng.randint(-3, 9), **tag))
            elif rng.random() < 0.7:
                new = rng.choice("abcde")
                evts.append(ItemRenamed(old=name or "", new=new, **tag))
                name = new
            else:
                evts.append(ItemDeleted(name=name or "", **tag))
                deleted = True
        version = st["version"] if st else 0
        self.state[item] = {"version": version + size, "name": name, "deleted": deleted}
        return f"item-{item}", [NewEvent.of(e, META) for e in evts], version


def main(db_path: str, seed: int) -> None:
    from runtime.adapters.sqlite.db import Database
    from runtime.adapters.sqlite.event_store import SqliteEventStore
    from runtime.adapters.sqlite.views import LocalProjector

    db = Database(db_path)
    store = SqliteEventStore(db)
    projector = LocalProjector(db, projections=PROJECTIONS, batch_size=7)
    projector.start(poll_interval=0.005)
    writer = ItemWriter(random.Random(seed))
    n = 0
    while True:
        store.append(*writer.next_batch())
        n += 1
        if n == 20:
            print("appending", flush=True)
        if n % 5 == 0:
            projector.catch_up(max_events=3)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
