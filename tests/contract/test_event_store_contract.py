"""One event-store contract, run against every adapter."""

from __future__ import annotations

import pytest

from domain.errors import ConcurrencyConflict
from domain.events import EventMetadata
from domain.records import NewEvent

pytestmark = pytest.mark.contract


def ev(n: int, **data: object) -> NewEvent:
    return NewEvent(type="test.happened", data={"n": n, **data}, metadata=EventMetadata(actor="tester"))


def test_append_and_read_back_in_order(event_store):
    r = event_store.append("s-1", [ev(1), ev(2)], 0)
    assert (r.first_version, r.last_version, r.duplicate) == (1, 2, False)
    got = event_store.read("s-1")
    assert [e.version for e in got] == [1, 2]
    assert [e.data["n"] for e in got] == [1, 2]
    assert got[0].metadata.actor == "tester"
    assert event_store.version("s-1") == 2
    assert event_store.version("nope") == 0


def test_wrong_expected_version_is_a_conflict(event_store):
    event_store.append("s-1", [ev(1)], 0)
    with pytest.raises(ConcurrencyConflict):
        event_store.append("s-1", [ev(2)], 0)
    with pytest.raises(ConcurrencyConflict):
        event_store.append("s-1", [ev(2)], 5)
    assert [e.data["n"] for e in event_store.read("s-1")] == [1]
