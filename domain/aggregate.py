"""Aggregates as two pure functions: decide(state, command) -> events; evolve(state, event) -> state.

An aggregate type bundles them with its stream-id scheme and initial state. Services load a
stream, fold ``evolve`` over it, call ``decide`` and append with the expected version.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from domain.events import Command, DomainEvent

S = TypeVar("S")


@dataclass(frozen=True)
class Aggregate(Generic[S]):
    name: str
    initial: Callable[[], S]
    evolve: Callable[[S, DomainEvent], S]
    decide: Callable[[S, Command], Sequence[DomainEvent]]

    def stream_id(self, entity_id: str) -> str:
        return f"{self.name}-{entity_id}"

    def fold(self, events: Iterable[DomainEvent], state: S | None = None) -> S:
        current = self.initial() if state is None else state
        for evt in events:
            current = self.evolve(current, evt)
        return current
