"""The reaction registry: event types -> reactions (``Reaction``), each with a stable name that
keys its tracking position. Handlers are plain callables taking the recorded event; they must be
idempotent (delivery is at least once) and raise only for a failure worth retrying."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from domain.records import RecordedEvent

Handler = Callable[[RecordedEvent], None]


@dataclass(frozen=True)
class Reaction:
    name: str  # tracking id, e.g. "start-training-run"; never rename a deployed one
    event_types: frozenset[str]
    handle: Handler

    def wants(self, event: RecordedEvent) -> bool:
        return event.type in self.event_types


class ReactionRegistry:
    def __init__(self, reactions: Iterable[Reaction] = ()) -> None:
        self._by_name: dict[str, Reaction] = {}
        for reaction in reactions:
            self.register(reaction)

    def register(self, reaction: Reaction) -> Reaction:
        if not reaction.name or ":" in reaction.name:
            raise ValueError("a reaction needs a non-empty name without ':'")
        if not reaction.event_types:
            raise ValueError(f"reaction {reaction.name!r} reacts to no event type")
        existing = self._by_name.get(reaction.name)
        if existing is not None and existing is not reaction:
            raise ValueError(f"reaction {reaction.name!r} registered twice")
        self._by_name[reaction.name] = reaction
        return reaction

    def all(self) -> list[Reaction]:
        return [self._by_name[n] for n in sorted(self._by_name)]

    def get(self, name: str) -> Reaction:
        return self._by_name[name]

    def for_type(self, event_type: str) -> list[Reaction]:
        return [r for r in self.all() if event_type in r.event_types]

    def event_types(self) -> frozenset[str]:
        return frozenset(t for r in self._by_name.values() for t in r.event_types)
