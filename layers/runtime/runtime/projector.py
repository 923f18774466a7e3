"""Backend-neutral projector pieces: apply one recorded event to view rows, and rebuild.

A view row remembers, per stream, the last version it applied (``ViewRecord.versions``). An event
whose version is not above that number is a no-op for the row, so at-least-once delivery
(DynamoDB Streams redeliveries, a replay after a crash) cannot apply an effect twice. A deleted
row stays as a tombstone (``row=None`` plus its versions) so that a late redelivery of an older
event cannot bring it back. This is the same guard as ``domain.projection.fold_all``, so the
live views, a rebuild and the reference fold agree.

Writes go through a ``ViewTarget``: ``load`` a row's record, ``save`` a new one. ``save`` may
refuse (returns False) when the row changed since it was loaded (another writer, e.g. a
concurrent Lambda on another shard touching a shared row); ``apply_event`` then reloads and
retries, and the version guard turns a concurrent duplicate into a no-op.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol

from domain.projection import Projection
from domain.records import RecordedEvent
from runtime.ports import ViewRecord
from runtime.projections import select

MAX_KEY_BYTES = 1024  # DynamoDB's sort-key limit; enforced on every backend so both agree


class ProjectionConflict(RuntimeError):
    """A row kept changing under us for ``max_attempts`` tries."""


class ViewTarget(Protocol):
    def load(self, view: str, key: str) -> ViewRecord | None:
        """The row's record, tombstones included; None if the row never existed."""
        ...

    def save(self, record: ViewRecord, previous: ViewRecord | None) -> bool:
        """Write ``record`` if the row is still ``previous`` (None: still absent); False if not."""
        ...

    def clear(self, view: str) -> None: ...


def step(
    projection: Projection, key: str, current: ViewRecord | None, event: RecordedEvent
) -> ViewRecord | None:
    """The row's next record after ``event``, or None when the row has already applied it."""
    if len(key.encode()) > MAX_KEY_BYTES:
        raise ValueError(f"{projection.view}: row key longer than {MAX_KEY_BYTES} bytes (hash it)")
    versions = dict(current.versions) if current is not None else {}
    if versions.get(event.stream_id, 0) >= event.version:
        return None
    row = projection.apply(key, current.row if current is not None else None, event)
    versions[event.stream_id] = event.version
    return ViewRecord(view=projection.view, key=key, row=row, versions=versions)


def apply_event(
    target: ViewTarget,
    projections: Sequence[Projection],
    event: RecordedEvent,
    *,
    max_attempts: int = 20,
) -> int:
    """Apply one event to every row it touches in every projection; returns rows written
    (0 when the event is a duplicate everywhere). Raises whatever a projection raises."""
    written = 0
    for projection in projections:
        for key in dict.fromkeys(projection.keys(event)):  # a key listed twice is applied once
            for _ in range(max_attempts):
                current = target.load(projection.view, key)
                new = step(projection, key, current, event)
                if new is None:
                    break
                if target.save(new, current):
                    written += 1
                    break
            else:
                raise ProjectionConflict(
                    f"{projection.view}/{key}: row kept changing while applying "
                    f"{event.stream_id}@{event.version}"
                )
    return written


def rebuild(
    target: ViewTarget,
    projections: Sequence[Projection],
    events: Iterable[RecordedEvent],
    views: Sequence[str] | None = None,
) -> int:
    """Clear the chosen views (all of ``projections`` for None) and replay ``events`` into them
    (e.g. ``DynamoDbEventStore.iter_all()``: every stream in version order). Returns the number
    of events read. On AWS, pause the stream's event source mapping while this runs: a live
    Lambda that applied a newer event to a cleared row first would make the replayed older ones
    no-ops. Records delivered after the rebuild are duplicates, hence no-ops."""
    chosen = select(list(projections), None if views is None else list(views))
    for projection in chosen:
        target.clear(projection.view)
    count = 0
    for event in events:
        apply_event(target, chosen, event)
        count += 1
    return count
