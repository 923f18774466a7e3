"""The parameter-config aggregate: pure decide / evolve.

Every command that produces values validates the *resulting* config in full; an invalid result
raises ``ConfigInvalid`` (an ``Invalid``) and emits nothing. Edits are stored as leaf changes
(``FieldChange``), so history, diff and blame are exact folds of the log.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field, replace
from typing import Any

from pydantic import Field, field_validator

from domain.aggregate import Aggregate
from domain.configs import paths
from domain.configs.diff import apply_changes, diff_values
from domain.configs.events import ConfigCreated, ConfigDeleted, ConfigEdited, DerivedFrom, Origin, TextChange
from domain.configs.validation import validate
from domain.errors import ConcurrencyConflict, Conflict, Invalid, NotFound
from domain.events import Command, DomainEvent

NAME_MAX = 200
DESCRIPTION_MAX = 5000


@dataclass(frozen=True)
class ConfigState:
    config_id: str = ""
    project_id: str = ""
    name: str = ""
    description: str = ""
    values: dict[str, Any] = field(default_factory=dict)
    origin: str = ""
    origin_ref: str | None = None
    derived_from: DerivedFrom | None = None
    version: int = 0
    exists: bool = False
    deleted: bool = False

    @property
    def family(self) -> str | None:
        return self.values.get("family")


def _name(value: str) -> str:
    value = value.strip()
    if not value:
        raise Invalid("name must not be empty", field="name")
    if len(value) > NAME_MAX:
        raise Invalid(f"name longer than {NAME_MAX} characters", field="name")
    # as project and model names: no control, format (bidi overrides, zero-width) or surrogate characters
    if any(unicodedata.category(c).startswith("C") for c in value):
        raise Invalid("control characters (NUL, bidi overrides ...) are not allowed", field="name")
    return value


class CreateConfig(Command):
    config_id: str = Field(min_length=1)
    project_id: str = Field(min_length=1)
    name: str
    description: str = Field(default="", max_length=DESCRIPTION_MAX)
    values: dict[str, Any]
    origin: Origin
    origin_ref: str | None = None
    derived_from: DerivedFrom | None = None

    @field_validator("name")
    @classmethod
    def _check_name(cls, v: str) -> str:
        return _name(v)


class EditConfig(Command):
    """Set and/or unset leaf paths (``{"training.learning_rate": 3e-5}``), or replace ``values``
    wholesale; rename; re-describe. ``expected_version``: optimistic check against the version
    the client read (ConcurrencyConflict if the config moved on)."""

    config_id: str
    set: dict[str, Any] = {}
    unset: list[str] = []
    values: dict[str, Any] | None = None
    name: str | None = None
    description: str | None = Field(default=None, max_length=DESCRIPTION_MAX)
    expected_version: int | None = None
    batch_id: str | None = None

    @field_validator("name")
    @classmethod
    def _check_name(cls, v: str | None) -> str | None:
        return None if v is None else _name(v)


class DeleteConfig(Command):
    config_id: str
    expected_version: int | None = None


def initial() -> ConfigState:
    return ConfigState()


def evolve(state: ConfigState, evt: DomainEvent) -> ConfigState:
    version = state.version + 1
    if isinstance(evt, ConfigCreated):
        return ConfigState(
            config_id=evt.config_id,
            project_id=evt.project_id,
            name=evt.name,
            description=evt.description,
            values=evt.values,
            origin=evt.origin,
            origin_ref=evt.origin_ref,
            derived_from=evt.derived_from,
            version=version,
            exists=True,
        )
    if isinstance(evt, ConfigEdited):
        return replace(
            state,
            values=apply_changes(state.values, list(evt.changes)),
            name=evt.name.new if evt.name else state.name,
            description=evt.description.new if evt.description else state.description,
            version=version,
        )
    if isinstance(evt, ConfigDeleted):
        return replace(state, deleted=True, version=version)
    return replace(state, version=version)


def edited_values(current: dict[str, Any], cmd: EditConfig) -> dict[str, Any]:
    """The values an edit command asks for (not yet validated)."""
    new = dict(cmd.values) if cmd.values is not None else current
    for path in cmd.unset:
        if not paths.has(new, path):
            raise Invalid(f"{path} is not set", field=path)
        new = paths.unset(new, path)
    for path, value in cmd.set.items():
        new = paths.set_(new, path, value)
    return new


def _check_live(state: ConfigState, config_id: str, expected: int | None) -> None:
    if not state.exists or state.deleted:
        raise NotFound(f"no config {config_id!r}", field="config_id")
    if expected is not None and expected != state.version:
        raise ConcurrencyConflict(f"config-{config_id}", expected, state.version)


def decide(state: ConfigState, cmd: Command) -> list[DomainEvent]:
    if isinstance(cmd, CreateConfig):
        if state.exists:
            raise Conflict(f"config {cmd.config_id!r} exists", field="config_id")
        validate(cmd.values)
        return [
            ConfigCreated(
                config_id=cmd.config_id,
                project_id=cmd.project_id,
                name=cmd.name,
                description=cmd.description,
                values=cmd.values,
                origin=cmd.origin,
                origin_ref=cmd.origin_ref,
                derived_from=cmd.derived_from,
            )
        ]
    if isinstance(cmd, EditConfig):
        _check_live(state, cmd.config_id, cmd.expected_version)
        new_values = edited_values(state.values, cmd)
        validate(new_values)
        changes = diff_values(state.values, new_values)
        name = TextChange(old=state.name, new=cmd.name) if cmd.name not in (None, state.name) else None
        desc = (
            TextChange(old=state.description, new=cmd.description)
            if cmd.description is not None and cmd.description != state.description
            else None
        )
        if not changes and name is None and desc is None:
            return []  # nothing to record: an edit that changes nothing is a no-op
        return [
            ConfigEdited(
                config_id=cmd.config_id, changes=changes, name=name, description=desc, batch_id=cmd.batch_id
            )
        ]
    if isinstance(cmd, DeleteConfig):
        _check_live(state, cmd.config_id, cmd.expected_version)
        return [ConfigDeleted(config_id=cmd.config_id)]
    raise Invalid(f"unknown command {type(cmd).__name__}", field="command")


CONFIG: Aggregate[ConfigState] = Aggregate("config", initial, evolve, decide)
