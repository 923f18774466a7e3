"""A pipeline run (stream ``pipelinerun-<run_id>``): the request naming the pipeline version it
runs, and each node's outputs as its steps record them. The run's progress (steps, status) is
its workflow run (``workflowrun-<run_id>``, the same id); this stream holds what the nodes made."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from pydantic import Field

from domain.aggregate import Aggregate
from domain.errors import Conflict, Invalid, NotFound
from domain.events import Command, DomainEvent, event


@event("pipelinerun.requested")
class PipelineRunRequested(DomainEvent):
    run_id: str
    pipeline_id: str
    pipeline_version: int
    project_id: str
    workflow: str


@event("pipelinerun.node_recorded")
class NodeRecorded(DomainEvent):
    node: str
    kind: str
    outputs: dict[str, Any]


class RequestPipelineRun(Command):
    run_id: str = Field(min_length=1, max_length=64)
    pipeline_id: str
    pipeline_version: int = Field(ge=1)
    project_id: str
    workflow: str


class RecordNode(Command):
    node: str
    kind: str
    outputs: dict[str, Any]


@dataclass(frozen=True)
class PipelineRun:
    run_id: str = ""
    pipeline_id: str = ""
    pipeline_version: int = 0
    project_id: str = ""
    workflow: str = ""
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)  # node -> its outputs

    @property
    def exists(self) -> bool:
        return bool(self.run_id)


def evolve(state: PipelineRun, evt: DomainEvent) -> PipelineRun:
    if isinstance(evt, PipelineRunRequested):
        return PipelineRun(evt.run_id, evt.pipeline_id, evt.pipeline_version, evt.project_id, evt.workflow)
    if isinstance(evt, NodeRecorded):
        return replace(state, outputs={**state.outputs, evt.node: evt.outputs})
    return state


def decide(state: PipelineRun, cmd: Command) -> list[DomainEvent]:
    if isinstance(cmd, RequestPipelineRun):
        if state.exists:
            raise Conflict(f"run {cmd.run_id} exists", field="run_id")
        return [PipelineRunRequested(**cmd.model_dump(exclude={"command_id"}))]
    if not state.exists:
        raise NotFound("no such pipeline run", field="run_id")
    if isinstance(cmd, RecordNode):
        if state.outputs.get(cmd.node) == cmd.outputs:
            return []  # a re-run step (after a crash) records nothing new
        return [NodeRecorded(node=cmd.node, kind=cmd.kind, outputs=cmd.outputs)]
    raise Invalid(f"unknown command {type(cmd).__name__}", field="command")


PIPELINE_RUNS: Aggregate[PipelineRun] = Aggregate("pipelinerun", PipelineRun, evolve, decide)
