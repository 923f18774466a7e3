"""Event and command base types, event metadata and the event type registry.

An event is a frozen pydantic model with a class-level ``event_type`` name and
``schema_version``. Stored form: ``{"type", "schema_version", "data", "metadata"}``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from domain.errors import Invalid


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return uuid.uuid4().hex


class EventMetadata(BaseModel):
    """Who / when / why of every event. Correlation ties a whole request or workflow together;
    causation names the command (or event) that caused this one."""

    model_config = ConfigDict(frozen=True)

    actor: str
    occurred_at: datetime = Field(default_factory=utcnow)
    correlation_id: str = Field(default_factory=new_id)
    causation_id: str | None = None
    reason: str | None = None


class DomainEvent(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    event_type: ClassVar[str] = ""
    schema_version: ClassVar[int] = 1


class Command(BaseModel):
    """A request to change one aggregate. Commands are validated on construction."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    command_id: str = Field(default_factory=new_id)


E = TypeVar("E", bound=type[DomainEvent])

_REGISTRY: dict[str, type[DomainEvent]] = {}


def event(name: str, version: int = 1) -> Callable[[E], E]:
    """Class decorator: give an event its stored type name and register it for decoding."""

    def register(cls: E) -> E:
        if name in _REGISTRY and _REGISTRY[name] is not cls:
            raise ValueError(f"event type {name!r} registered twice")
        cls.event_type = name
        cls.schema_version = version
        _REGISTRY[name] = cls
        return cls

    return register


def event_class(name: str) -> type[DomainEvent]:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise Invalid(f"unknown event type {name!r}", field="type") from None


def encode(evt: DomainEvent) -> dict[str, Any]:
    return {"type": evt.event_type, "schema_version": evt.schema_version, "data": evt.model_dump(mode="json")}


def decode(type_name: str, data: dict[str, Any]) -> DomainEvent:
    return event_class(type_name).model_validate(data)


def registered_types() -> dict[str, type[DomainEvent]]:
    return dict(_REGISTRY)
