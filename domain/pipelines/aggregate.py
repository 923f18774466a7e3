"""The pipeline aggregate (stream ``pipeline-<id>``): every save is a new version.

Version N of a pipeline is its state after the N-th event of its stream (as configs). A save
carries the whole validated definition plus its leaf changes against the previous version
(``domain.configs.diff.FieldChange``, paths like ``nodes.train.params.max_epochs``), so history,
diff and per-node blame are folds of the log. A save that changes nothing records nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from pydantic import Field

from domain.aggregate import Aggregate
from domain.configs.diff import FieldChange, diff_values
from domain.errors import ConcurrencyConflict, Conflict, Invalid, NotFound
from domain.events import Command, DomainEvent, event
from domain.pipelines.model import validate


@event("pipeline.created")
class PipelineCreated(DomainEvent):
    pipeline_id: str
    project_id: str
    definition: dict[str, Any]


@event("pipeline.saved")
class PipelineSaved(DomainEvent):
    pipeline_id: str
    definition: dict[str, Any]
    changes: list[FieldChange]


@event("pipeline.deleted")
class PipelineDeleted(DomainEvent):
    pipeline_id: str


class CreatePipeline(Command):
    pipeline_id: str = Field(min_length=1, max_length=64)
    project_id: str = Field(min_length=1)
    definition: dict[str, Any]


class SavePipeline(Command):
    pipeline_id: str
    definition: dict[str, Any]
    expected_version: int | None = None


class DeletePipeline(Command):
    pipeline_id: str
    expected_version: int | None = None


@dataclass(frozen=True)
class PipelineState:
    pipeline_id: str = ""
    project_id: str = ""
    definition: dict[str, Any] = field(default_factory=dict)
    version: int = 0
    exists: bool = False
    deleted: bool = False

    @property
    def name(self) -> str:
        return str(self.definition.get("name", ""))


def evolve(state: PipelineState, evt: DomainEvent) -> PipelineState:
    version = state.version + 1
    if isinstance(evt, PipelineCreated):
        return PipelineState(evt.pipeline_id, evt.project_id, evt.definition, version, exists=True)
    if isinstance(evt, PipelineSaved):
        return replace(state, definition=evt.definition, version=version)
    if isinstance(evt, PipelineDeleted):
        return replace(state, deleted=True, version=version)
    return replace(state, version=version)


def _live(state: PipelineState, pipeline_id: str, expected: int | None) -> None:
    if not state.exists or state.deleted:
        raise NotFound(f"no pipeline {pipeline_id!r}", field="pipeline_id")
    if expected is not None and expected != state.version:
        raise ConcurrencyConflict(f"pipeline-{pipeline_id}", expected, state.version)


def decide(state: PipelineState, cmd: Command) -> list[DomainEvent]:
    if isinstance(cmd, CreatePipeline):
        if state.exists:
            raise Conflict(f"pipeline {cmd.pipeline_id!r} exists", field="pipeline_id")
        validate(cmd.definition)
        return [PipelineCreated(pipeline_id=cmd.pipeline_id, project_id=cmd.project_id, definition=cmd.definition)]
    if isinstance(cmd, SavePipeline):
        _live(state, cmd.pipeline_id, cmd.expected_version)
        validate(cmd.definition)
        changes = diff_values(state.definition, cmd.definition)
        if not changes and list(state.definition["nodes"]) == list(cmd.definition["nodes"]):
            return []
        return [PipelineSaved(pipeline_id=cmd.pipeline_id, definition=cmd.definition, changes=changes)]
    if isinstance(cmd, DeletePipeline):
        _live(state, cmd.pipeline_id, cmd.expected_version)
        return [PipelineDeleted(pipeline_id=cmd.pipeline_id)]
    raise Invalid(f"unknown command {type(cmd).__name__}", field="command")


PIPELINES: Aggregate[PipelineState] = Aggregate("pipeline", PipelineState, evolve, decide)
