"""Run a command against an aggregate: load by replay, decide, append with the expected version.

Every write in TLM goes through ``execute`` (one aggregate) or ``execute_many`` (several
aggregates that must change together: their events go to ``EventStore.append_batch``, one
all-or-nothing write). A concurrent writer makes the append raise ConcurrencyConflict;
``retries`` re-runs decide on the fresh state (safe: decide is pure).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from domain.aggregate import Aggregate
from domain.errors import ConcurrencyConflict
from domain.events import Command, DomainEvent, EventMetadata, new_id
from domain.records import AppendResult, NewEvent
from runtime.ports import EventStore, StreamAppend

S = TypeVar("S")


@dataclass(frozen=True)
class Caller:
    """Who is acting: a user id plus where the request came from."""

    user_id: str
    correlation_id: str = field(default_factory=new_id)
    reason: str | None = None

    def metadata(self, command: Command | None = None) -> EventMetadata:
        return EventMetadata(
            actor=self.user_id,
            correlation_id=self.correlation_id,
            causation_id=command.command_id if command is not None else None,
            reason=self.reason,
        )


@dataclass(frozen=True)
class Outcome(Generic[S]):
    state: S
    events: Sequence[DomainEvent]
    result: AppendResult | None  # None when decide returned no events
    version: int


def load(store: EventStore, aggregate: Aggregate[S], entity_id: str) -> tuple[S, int]:
    records = store.read(aggregate.stream_id(entity_id))
    state = aggregate.fold(r.event() for r in records)
    return state, (records[-1].version if records else 0)


@dataclass(frozen=True)
class Change:
    """One aggregate's part of a command that changes several together."""

    aggregate: Aggregate[Any]
    entity_id: str
    command: Command


@dataclass(frozen=True)
class Decision:
    """A change decided on a loaded state: the events to append at ``version``."""

    aggregate: Aggregate[Any]
    entity_id: str
    command: Command | None
    state: Any
    version: int
    events: Sequence[DomainEvent]


def decide(store: EventStore, aggregate: Aggregate[S], entity_id: str, command: Command) -> Decision:
    """Load one aggregate and run its pure decide (nothing written)."""
    state, version = load(store, aggregate, entity_id)
    return Decision(aggregate, entity_id, command, state, version, list(aggregate.decide(state, command)))


def commit(
    store: EventStore, decisions: Sequence[Decision], caller: Caller, *, idempotency_key: str | None = None
) -> list[Outcome[Any]] | None:
    """Append every decision's events in ONE write (one stream: ``append``; several:
    ``append_batch``, all or nothing); decisions without events are skipped. Raises
    ConcurrencyConflict if any stream moved since it was loaded. Returns None when the
    idempotency key had been used already (nothing appended)."""
    writing = [d for d in decisions if d.events]
    if not writing:
        return [Outcome(d.state, [], None, d.version) for d in decisions]
    appends = [
        StreamAppend(
            d.aggregate.stream_id(d.entity_id),
            [NewEvent.of(e, caller.metadata(d.command)) for e in d.events],
            d.version,
        )
        for d in writing
    ]
    if len(appends) == 1:
        a = appends[0]
        results = [store.append(a.stream_id, a.events, a.expected_version, idempotency_key=idempotency_key)]
    else:
        results = store.append_batch(appends, idempotency_key=idempotency_key)
    if results[0].duplicate:
        return None
    by_decision = {id(d): r for d, r in zip(writing, results, strict=True)}
    return [
        Outcome(d.aggregate.fold(d.events, d.state), d.events, r, r.last_version)
        if (r := by_decision.get(id(d))) is not None
        else Outcome(d.state, [], None, d.version)
        for d in decisions
    ]


def execute_many(
    store: EventStore,
    changes: Sequence[Change] | Callable[[], Sequence[Decision]],
    caller: Caller,
    *,
    idempotency_key: str | None = None,
    retries: int = 0,
) -> list[Outcome[Any]]:
    """Several aggregates changed by one command, appended together or not at all (what
    eventsourcing's ``save(*aggregates)`` does).

    ``changes``: the (aggregate, id, command) parts, or a function that loads and decides them
    itself (e.g. to authorize each target; it runs again on every retry, so it must only read,
    and it takes no idempotency key). On ConcurrencyConflict every part is decided again on
    fresh state, up to ``retries`` times. With an idempotency key the whole command runs once:
    a retry is answered, before decide runs, with the states as they are now, no events, and
    the first write's result (of its first stream) on the first part."""
    parts = None if callable(changes) else list(changes)
    if parts is None and idempotency_key is not None:
        raise ValueError("an idempotency key needs the parts as Change values (a retry loads them, never decides)")

    def plan() -> Sequence[Decision]:
        if parts is None:
            return changes()  # type: ignore[operator]
        return [decide(store, c.aggregate, c.entity_id, c.command) for c in parts]

    def answered(first: AppendResult | None) -> list[Outcome[Any]]:
        loaded = [load(store, c.aggregate, c.entity_id) for c in parts or []]
        return [Outcome(st, [], first if i == 0 else None, v) for i, (st, v) in enumerate(loaded)]

    attempt = 0
    while True:
        if idempotency_key is not None and (first := store.idempotent_result(idempotency_key)) is not None:
            return answered(first)
        try:
            out = commit(store, plan(), caller, idempotency_key=idempotency_key)
        except ConcurrencyConflict:
            attempt += 1
            if attempt > retries:
                raise
            continue
        if out is None:  # the same key won a race meanwhile
            return answered(store.idempotent_result(idempotency_key or ""))
        return out


def execute(
    store: EventStore,
    aggregate: Aggregate[S],
    entity_id: str,
    command: Command,
    caller: Caller,
    *,
    idempotency_key: str | None = None,
    retries: int = 0,
) -> Outcome[S]:
    """One aggregate: ``execute_many`` with one part."""
    change = Change(aggregate, entity_id, command)
    return execute_many(store, [change], caller, idempotency_key=idempotency_key, retries=retries)[0]
