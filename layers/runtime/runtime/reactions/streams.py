"""Reactions over a stream with no global order (DynamoDB Streams): each reaction's tracking
position is, per event stream, the last version it handled - a row ``reaction:<name>`` /
``<stream id>`` in the views table, written through the projector's guarded row writes
(``runtime.projector.apply_event``), so it is the same version guard the views have.

``react`` runs the reaction first and records the position after: a crash in between hands the
event to the reaction again (at least once; reactions are idempotent), never skips it.
"""

from __future__ import annotations

from collections.abc import Sequence

from domain.projection import Row
from domain.records import RecordedEvent
from runtime.projector import ViewTarget, apply_event
from runtime.reactions.registry import Reaction


def tracking_view(reaction: str) -> str:
    return f"reaction:{reaction}"


class _Tracking:
    """A projection whose only row per stream remembers the last version the reaction handled."""

    def __init__(self, reaction: Reaction) -> None:
        self.view = tracking_view(reaction.name)
        self.reaction = reaction

    def keys(self, event: RecordedEvent) -> Sequence[str]:
        return [event.stream_id] if self.reaction.wants(event) else []

    def apply(self, key: str, row: Row | None, event: RecordedEvent) -> Row | None:
        return {"version": event.version, "type": event.type, "handled_at": event.recorded_at.isoformat()}


def handled(target: ViewTarget, reaction: Reaction, event: RecordedEvent) -> bool:
    current = target.load(tracking_view(reaction.name), event.stream_id)
    return current is not None and current.versions.get(event.stream_id, 0) >= event.version


def react(target: ViewTarget, reactions: Sequence[Reaction], event: RecordedEvent) -> list[str]:
    """Run every reaction that wants ``event`` and has not handled it; returns their names.
    Raises what a reaction raises (the ones before it keep their positions)."""
    ran = []
    for reaction in reactions:
        if not reaction.wants(event) or handled(target, reaction, event):
            continue
        reaction.handle(event)
        apply_event(target, [_Tracking(reaction)], event)
        ran.append(reaction.name)
    return ran
