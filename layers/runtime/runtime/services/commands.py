"""Run a command against an aggregate: load by replay, decide, append with the expected version.

Every write in TLM goes through ``execute``. A concurrent writer makes the append raise
ConcurrencyConflict; ``retries`` re-runs decide on the fresh state (safe: decide is pure).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from domain.aggregate import Aggregate
from domain.errors import ConcurrencyConflict
from domain.events import Command, DomainEvent, EventMetadata, new_id
from domain.records import AppendResult, NewEvent
from runtime.ports import EventStore

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
    stream_id = aggregate.stream_id(entity_id)
    attempt = 0
    while True:
        if idempotency_key is not None and (first := store.idempotent_result(idempotency_key)) is not None:
            # a retry: answer with what the first attempt did, before decide can refuse it
            state, version = load(store, aggregate, entity_id)
            return Outcome(state, [], first, version)
        state, version = load(store, aggregate, entity_id)
        events = list(aggregate.decide(state, command))
        if not events:
            return Outcome(state, [], None, version)
        meta = caller.metadata(command)
        try:
            result = store.append(
                stream_id,
                [NewEvent.of(e, meta) for e in events],
                version,
                idempotency_key=idempotency_key,
            )
        except ConcurrencyConflict:
            attempt += 1
            if attempt > retries:
                raise
            continue
        if result.duplicate:  # the same key won a race meanwhile
            state, version = load(store, aggregate, entity_id)
            return Outcome(state, [], result, version)
        return Outcome(aggregate.fold(events, state), events, result, result.last_version)
