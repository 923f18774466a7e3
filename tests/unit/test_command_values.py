"""The command executor's values are immutable (an Outcome or a Decision handed to a caller cannot
be changed under another holder) and ``commit`` takes its idempotency key by keyword only (a key
passed by position would be a silent bug in a caller), on a real SQLite store."""

from __future__ import annotations

import dataclasses

import pytest

from domain.library import projects as p
from runtime.adapters.sqlite.db import Database
from runtime.adapters.sqlite.event_store import SqliteEventStore
from runtime.services.commands import Caller, commit, decide

pytestmark = pytest.mark.unit
ALICE = Caller("alice")


def test_decisions_and_outcomes_are_frozen_and_the_key_is_keyword_only(tmp_path) -> None:
    store = SqliteEventStore(Database(tmp_path / "tlm.db", synchronous="OFF"))
    decision = decide(store, p.PROJECTS, "p1", p.CreateProject(project_id="p1", name="组", owner="alice"))
    with pytest.raises(dataclasses.FrozenInstanceError):
        decision.version = 5  # type: ignore[misc]
    with pytest.raises(TypeError):
        commit(store, [decision], ALICE, "k1")  # type: ignore[misc]
    assert store.version("project-p1") == 0  # the refused call wrote nothing
    (out,) = commit(store, [decision], ALICE, idempotency_key="k1") or []
    assert out.version == 1 and out.result is not None and not out.result.duplicate
    with pytest.raises(dataclasses.FrozenInstanceError):
        out.version = 2  # type: ignore[misc]
    assert commit(store, [decision], ALICE, idempotency_key="k1") is None  # a replay appends nothing
    assert store.version("project-p1") == 1
