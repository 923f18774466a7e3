"""Projector core (runtime.projector) against an in-memory view target: at-least-once delivery
with per-stream order gives the reference fold (domain.projection.fold_all), rebuilds agree,
tombstones hold, optimistic-write races retry; plus the projection registry."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.events import EventMetadata
from domain.projection import Row, fold_all
from domain.records import RecordedEvent
from runtime import projections as registry
from runtime.ports import ViewRecord
from runtime.projector import ProjectionConflict, apply_event, rebuild, step

pytestmark = pytest.mark.unit

META = EventMetadata(actor="u")
T0 = datetime(2025, 1, 1, tzinfo=UTC)


class Counters:
    """One row per entity (created / added / deleted) and one shared 'totals' row."""

    view = "u_counters"

    def keys(self, evt: RecordedEvent) -> Sequence[str]:
        return [evt.stream_id, "totals"] if evt.type.startswith("u.") else []

    def apply(self, key: str, row: Row | None, evt: RecordedEvent) -> Row | None:
        if key == "totals":
            per = dict((row or {}).get("per", {}))
            if evt.type == "u.deleted":
                per.pop(evt.stream_id, None)
            else:
                per[evt.stream_id] = per.get(evt.stream_id, 0) + evt.data.get("n", 0)
            return {"per": per}
        if evt.type == "u.created":
            return {"n": 0, "seen": [evt.version]}
        if row is None:
            return None
        if evt.type == "u.added":
            return {"n": row["n"] + evt.data["n"], "seen": [*row["seen"], evt.version]}
        return None  # u.deleted


class MemoryTarget:
    """Hand-written fake of a view store: rows with versions; ``refuse`` makes some saves lose
    a race (the row is first rewritten unchanged by 'someone else')."""

    def __init__(self, refuse: float = 0.0, seed: int = 0) -> None:
        self.records: dict[tuple[str, str], ViewRecord] = {}
        self.refuse = refuse
        self.rng = random.Random(seed)
        self.stamp: dict[tuple[str, str], int] = {}

    def load(self, view: str, key: str) -> ViewRecord | None:
        rec = self.records.get((view, key))
        return None if rec is None else _Stamped(rec, self.stamp.get((view, key), 0))

    def save(self, record: ViewRecord, previous: ViewRecord | None) -> bool:
        k = (record.view, record.key)
        if self.refuse and self.rng.random() < self.refuse:
            self.stamp[k] = self.stamp.get(k, 0) + 1  # a concurrent writer touched the row
            return False
        if (previous is None) != (k not in self.records):
            return False
        if previous is not None and previous.stamp != self.stamp.get(k, 0):  # type: ignore[attr-defined]
            return False
        self.records[k] = record
        self.stamp[k] = self.stamp.get(k, 0) + 1
        return True

    def clear(self, view: str) -> None:
        for k in [k for k in self.records if k[0] == view]:
            del self.records[k]

    def rows(self, view: str) -> dict[str, Row]:
        return {k[1]: r.row for k, r in self.records.items() if k[0] == view and r.row is not None}


class _Stamped(ViewRecord):
    def __init__(self, rec: ViewRecord, stamp: int) -> None:
        super().__init__(view=rec.view, key=rec.key, row=rec.row, versions=rec.versions)
        object.__setattr__(self, "stamp", stamp)


def rec(stream: str, version: int, type_: str, **data: int) -> RecordedEvent:
    return RecordedEvent(
        stream_id=stream, version=version, type=type_, data=data, metadata=META, recorded_at=T0
    )


@st.composite
def histories(draw: st.DrawFn) -> list[RecordedEvent]:
    """A valid global log over up to 4 streams: created first, then adds, maybe a delete and
    events after it (which must change nothing)."""
    n_events = draw(st.integers(1, 40))
    versions: dict[str, int] = {}
    log: list[RecordedEvent] = []
    for _ in range(n_events):
        stream = f"u-{draw(st.integers(0, 3))}"
        v = versions.get(stream, 0) + 1
        versions[stream] = v
        kind = "u.created" if v == 1 else draw(st.sampled_from(["u.added", "u.added", "u.added", "u.deleted"]))
        log.append(rec(stream, v, kind, n=draw(st.integers(-5, 9))))
    return log


def deliveries(log: list[RecordedEvent], rng: random.Random) -> list[RecordedEvent]:
    """What a stream-based transport may hand over: each stream in order, streams interleaved
    arbitrarily, and some records delivered again later (at least once)."""
    queues: dict[str, list[RecordedEvent]] = {}
    for e in log:
        queues.setdefault(e.stream_id, []).append(e)
    out: list[RecordedEvent] = []
    delivered: list[RecordedEvent] = []
    while any(queues.values()):
        stream = rng.choice([s for s, q in queues.items() if q])
        e = queues[stream].pop(0)
        out.append(e)
        delivered.append(e)
        if rng.random() < 0.3:
            out.append(rng.choice(delivered))  # a redelivery of anything seen so far
    return out


@settings(max_examples=150, deadline=None)
@given(log=histories(), seed=st.integers(0, 2**16), refuse=st.sampled_from([0.0, 0.3]))
def test_at_least_once_delivery_equals_the_reference_fold(
    log: list[RecordedEvent], seed: int, refuse: float
) -> None:
    # Given a history and a delivery with interleaving, redeliveries and write races
    proj = Counters()
    target = MemoryTarget(refuse=refuse, seed=seed)
    # When every delivered record is applied
    for e in deliveries(log, random.Random(seed)):
        apply_event(target, [proj], e)
    # Then the views equal the reference fold, and a rebuild from scratch gives the same
    expected = fold_all(proj, log)
    assert target.rows(proj.view) == expected
    fresh = MemoryTarget()
    rebuild(fresh, [proj], log)
    assert fresh.rows(proj.view) == expected
    rebuild(target, [proj], log)
    assert target.rows(proj.view) == expected


def test_a_deleted_row_stays_deleted_when_an_old_event_is_redelivered() -> None:
    proj, target = Counters(), MemoryTarget()
    created, deleted = rec("u-1", 1, "u.created"), rec("u-1", 2, "u.deleted")
    apply_event(target, [proj], created)
    apply_event(target, [proj], deleted)
    assert target.load(proj.view, "u-1").row is None  # type: ignore[union-attr]  # tombstone
    assert apply_event(target, [proj], created) == 0
    assert target.rows(proj.view) == {"totals": {"per": {}}}


def test_step_is_a_no_op_for_an_applied_version_and_records_the_new_one() -> None:
    proj = Counters()
    first = step(proj, "u-1", None, rec("u-1", 1, "u.created"))
    assert first is not None and first.versions == {"u-1": 1}
    assert step(proj, "u-1", first, rec("u-1", 1, "u.created")) is None
    second = step(proj, "u-1", first, rec("u-1", 2, "u.added", n=4))
    assert second is not None and second.row == {"n": 4, "seen": [1, 2]} and second.versions == {"u-1": 2}


def test_a_row_that_keeps_changing_raises_conflict_instead_of_looping() -> None:
    with pytest.raises(ProjectionConflict):
        apply_event(MemoryTarget(refuse=1.0), [Counters()], rec("u-1", 1, "u.created"), max_attempts=3)


def test_rebuild_of_one_view_leaves_the_others_alone() -> None:
    class Other(Counters):
        view = "u_other"

    a, b, target = Counters(), Other(), MemoryTarget()
    log = [rec("u-1", 1, "u.created"), rec("u-1", 2, "u.added", n=3)]
    for e in log:
        apply_event(target, [a, b], e)
    target.records[("u_other", "junk")] = ViewRecord("u_other", "junk", {"x": 1}, {})
    rebuild(target, [a, b], log, views=["u_counters"])
    assert "junk" in target.rows("u_other")
    with pytest.raises(KeyError):
        rebuild(target, [a, b], log, views=["nope"])


def test_registry_registers_once_per_view() -> None:
    proj = Counters()
    try:
        assert registry.register(proj) is proj
        registry.register(proj)  # same object again: fine
        assert registry.get("u_counters") is proj and proj in registry.all()
        with pytest.raises(ValueError, match="registered twice"):
            registry.register(Counters())
    finally:
        registry.unregister("u_counters")
    with pytest.raises(KeyError):
        registry.get("u_counters")


def test_row_keys_over_the_dynamodb_limit_are_refused_on_every_backend() -> None:
    class Long(Counters):
        def keys(self, evt: RecordedEvent) -> Sequence[str]:
            return ["é" * 600]

    with pytest.raises(ValueError, match="longer than 1024"):
        apply_event(MemoryTarget(), [Long()], rec("u-1", 1, "u.created"))
