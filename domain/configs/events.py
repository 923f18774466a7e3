"""Events of the parameter-config aggregate (stream ``config-<config_id>``)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from domain.configs.diff import FieldChange
from domain.events import DomainEvent, event

Origin = Literal["template", "file", "import", "derived"]


class TextChange(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    old: str
    new: str


class DerivedFrom(BaseModel):
    """Lineage of an architecture-derived config: the parent (config id and version), the
    structural edit applied, and which parent layer feeds each child layer."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    config_id: str
    version: int
    edit: dict[str, Any]
    layer_map: dict[str, int | None]  # child layer index (str: JSON keys) -> parent layer or None (new)


@event("config.created")
class ConfigCreated(DomainEvent):
    """``origin``: "template" (``origin_ref`` = template name), "file" (uploaded file name),
    "import" (a portable tlm.config document; ``origin_ref`` its name), "derived" (architecture
    edit of another config; see ``derived_from``)."""

    config_id: str
    project_id: str
    name: str
    description: str = ""
    values: dict[str, Any]
    origin: Origin
    origin_ref: str | None = None
    derived_from: DerivedFrom | None = None


@event("config.edited")
class ConfigEdited(DomainEvent):
    """Leaf-level changes to ``values`` (exact, invertible), plus name/description changes.
    ``batch_id`` ties together the events of one batch edit (one event per config)."""

    config_id: str
    changes: list[FieldChange] = []
    name: TextChange | None = None
    description: TextChange | None = None
    batch_id: str | None = None


@event("config.deleted")
class ConfigDeleted(DomainEvent):
    config_id: str
