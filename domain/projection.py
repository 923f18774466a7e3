"""Projections: pure folds from events to view rows.

A projection names its view and, for each recorded event it cares about, the keys of the rows
the event touches and how each row changes: ``apply(key, row | None, event) -> row | None``
(None deletes the row). Rows are JSON objects. The runtime keeps, per row, the last version it
applied for each stream, so a redelivered event is a no-op; the fold itself stays pure.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from domain.records import RecordedEvent

Row = dict[str, Any]


class Projection(Protocol):
    view: str

    def keys(self, event: RecordedEvent) -> Sequence[str]:
        """Row keys this event changes; empty when the projection ignores it."""
        ...

    def apply(self, key: str, row: Row | None, event: RecordedEvent) -> Row | None:
        """The row after the event (pure)."""
        ...


def fold_all(projection: Projection, events: Sequence[RecordedEvent]) -> dict[str, Row]:
    """Reference fold of a whole history, with the same per-stream version guard the runtime
    applies. Used by tests and by in-memory view stores."""
    rows: dict[str, Row] = {}
    seen: dict[str, dict[str, int]] = {}
    for evt in events:
        for key in projection.keys(evt):
            versions = seen.setdefault(key, {})
            if versions.get(evt.stream_id, 0) >= evt.version:
                continue
            new = projection.apply(key, rows.get(key), evt)
            versions[evt.stream_id] = evt.version
            if new is None:
                rows.pop(key, None)
            else:
                rows[key] = new
    return rows
