"""Recording an upload's outcome survives writers that race it on the model's stream: up to three
conflicts are decided again on fresh state, a fourth is the caller's (on AWS the trigger's retry).
Real SQLite: another store on the same file appends to the stream just as our write starts."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from domain.errors import ConcurrencyConflict, Invalid
from domain.events import EventMetadata
from domain.library import models as m
from domain.records import NewEvent
from runtime.adapters.sqlite.db import Database
from runtime.adapters.sqlite.event_store import SqliteEventStore
from runtime.bootstrap import build_local
from runtime.services.commands import Caller
from runtime.settings import Settings

pytestmark = pytest.mark.unit
ALICE = Caller("alice")
PART = 1024


@pytest.fixture
def c(tmp_path: Path):  # type: ignore[no-untyped-def]
    container = build_local(Settings(data_dir=tmp_path / "data", min_part_bytes=PART))
    yield container
    container.close()


def race(c, mid: str, times: int) -> list[int]:  # type: ignore[no-untyped-def]
    """Arm our connection: at each of the next ``times`` event inserts, bob's store appends a
    description change to the model first (so our guarded insert finds the stream moved)."""
    other = SqliteEventStore(Database(c.db.path))
    left, seen = [times], []

    def beat_us(sql: str) -> None:
        if left[0] > 0 and sql.lstrip().startswith("INSERT INTO events"):
            left[0] -= 1
            stream = f"model-{mid}"
            evt = m.ModelUpdated(description=f"bob {left[0]}")
            other.append(stream, [NewEvent.of(evt, EventMetadata(actor="bob"))], other.version(stream))
            seen.append(other.version(stream))

    c.db.connection().set_trace_callback(beat_us)
    return seen


def started(c, data: bytes, announced: bytes):  # type: ignore[no-untyped-def]
    pid = c.library.create_project(ALICE, "p")["project_id"]
    mid = c.library.register_model(ALICE, pid, name="m", family="bert")["model_id"]
    up = c.library.start_upload(ALICE, mid, path="w.bin", size=len(announced),
                                sha256=hashlib.sha256(announced).hexdigest(), part_size=PART)  # fmt: skip
    c.blobs.upload_part(up["upload_id"], 1, data)
    c.catch_up()
    return mid, up["upload_id"]


def types(c, mid: str) -> list[str]:  # type: ignore[no-untyped-def]
    return [r.type for r in c.store.read(f"model-{mid}")]


@pytest.mark.parametrize("wrong", [False, True])
def test_three_racing_writes_are_absorbed_and_a_fourth_is_a_conflict(c, wrong: bool) -> None:
    outcome = "model.upload_rejected" if wrong else "model.file_added"
    # Given two uploads (good bytes, or bytes other than announced) and a writer beating us 3 times
    first, uid1 = started(c, b"w" * 900, b"x" * 900 if wrong else b"w" * 900)
    seen = race(c, first, 3)
    # When the first is completed, Then it is recorded after bob's three changes
    if wrong:
        with pytest.raises(Invalid):
            c.library.complete_upload(ALICE, first, uid1)
    else:
        assert c.library.complete_upload(ALICE, first, uid1)["state"] == "completed"
    assert len(seen) == 3 and types(c, first)[-4:] == ["model.updated"] * 3 + [outcome]
    # When the writer beats us 4 times, Then the conflict reaches the caller and nothing is recorded
    second, uid2 = started(c, b"v" * 900, b"y" * 900 if wrong else b"v" * 900)
    race(c, second, 4)
    with pytest.raises(ConcurrencyConflict):
        c.library.complete_upload(ALICE, second, uid2)
    assert outcome not in types(c, second)
    c.db.connection().set_trace_callback(None)
