"""What the event store hands back: an event with its place in the log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from domain.events import DomainEvent, EventMetadata, decode


class NewEvent(BaseModel):
    """An event ready to append: type name, JSON data, metadata."""

    model_config = ConfigDict(frozen=True)

    type: str
    schema_version: int = 1
    data: dict[str, Any]
    metadata: EventMetadata

    @classmethod
    def of(cls, evt: DomainEvent, metadata: EventMetadata) -> NewEvent:
        return cls(
            type=evt.event_type,
            schema_version=evt.schema_version,
            data=evt.model_dump(mode="json"),
            metadata=metadata,
        )


class RecordedEvent(BaseModel):
    """A stored event. ``version`` counts from 1 within the stream; ``position`` is the global
    order where the store has one (SQLite), else None (DynamoDB has no global order)."""

    model_config = ConfigDict(frozen=True)

    stream_id: str
    version: int
    position: int | None = None
    type: str
    schema_version: int = 1
    data: dict[str, Any]
    metadata: EventMetadata
    recorded_at: datetime

    def event(self) -> DomainEvent:
        return decode(self.type, self.data)


class AppendResult(BaseModel):
    """Outcome of an append. ``duplicate`` is True when the idempotency key had been used:
    nothing was appended and the first append's result is returned."""

    model_config = ConfigDict(frozen=True)

    stream_id: str
    first_version: int
    last_version: int
    duplicate: bool = False
