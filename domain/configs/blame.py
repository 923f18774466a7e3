"""Per-field blame: for each leaf path of a config's values, the event that set its current value.

Computed from the stored records (``RecordedEvent``) of one config stream: ``ConfigCreated`` sets
every path; ``ConfigEdited`` sets the paths in its changes (a removal clears the path's blame).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from domain.configs import paths
from domain.configs.diff import apply_changes
from domain.configs.events import ConfigCreated, ConfigEdited
from domain.records import RecordedEvent


class BlameEntry(BaseModel):
    model_config = ConfigDict(frozen=True)

    path: str
    value: Any
    version: int  # the config version (event number in its stream) that set it
    event_type: str
    actor: str
    occurred_at: datetime
    recorded_at: datetime
    command_id: str | None  # the command that caused the event (EventMetadata.causation_id)
    correlation_id: str
    reason: str | None = None
    batch_id: str | None = None


def _entry(path: str, value: Any, rec: RecordedEvent, batch_id: str | None) -> BlameEntry:
    m = rec.metadata
    return BlameEntry(
        path=path,
        value=value,
        version=rec.version,
        event_type=rec.type,
        actor=m.actor,
        occurred_at=m.occurred_at,
        recorded_at=rec.recorded_at,
        command_id=m.causation_id,
        correlation_id=m.correlation_id,
        reason=m.reason,
        batch_id=batch_id,
    )


def blame(records: Sequence[RecordedEvent]) -> dict[str, BlameEntry]:
    """Leaf path -> who set its current value, for the state after ``records`` (sorted by path)."""
    values: dict[str, Any] = {}
    out: dict[str, BlameEntry] = {}
    for rec in records:
        evt = rec.event()
        if isinstance(evt, ConfigCreated):
            values = evt.values
            out = {p: _entry(p, v, rec, None) for p, v in paths.flatten(values).items()}
        elif isinstance(evt, ConfigEdited):
            values = apply_changes(values, list(evt.changes))
            flat = paths.flatten(values)
            touched = {c.path for c in evt.changes}
            out = {p: e for p, e in out.items() if p in flat and p not in touched}
            for p in touched:
                if p in flat:
                    out[p] = _entry(p, flat[p], rec, evt.batch_id)
    return dict(sorted(out.items()))
