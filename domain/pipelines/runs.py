"""A pipeline run (stream ``pipelinerun-<run_id>``): the request naming the pipeline version it
runs, and each node's outputs as its steps record them. The run's progress (steps, status) is
its workflow run (``workflowrun-<run_id>``, the same id); this stream holds what the nodes made."""

from __future__ import annotations

import hashlib
import json
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
    parent_run_id: str | None = None  # a retry: the run whose node outputs it may reuse
    force: list[str] = []  # a retry: nodes that run again even if their input hash matches
    trigger: dict[str, Any] | None = None  # a triggered run: {trigger_id, kind, cause} (domain.pipelines.triggers)


@event("pipelinerun.node_launched")
class NodeLaunched(DomainEvent):
    """A job node started its work (a training or a compile): what cancel stops, and what a re-run
    step finds instead of starting a second one."""

    node: str
    kind: str
    launched: dict[str, Any]


@event("pipelinerun.approval_decided")
class ApprovalDecided(DomainEvent):
    """A member's decision on an approval node (what the node's poll step reads)."""

    node: str
    approved: bool
    by: str
    comment: str = ""


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
    parent_run_id: str | None = None
    force: list[str] = Field(default_factory=list)
    trigger: dict[str, Any] | None = None


class LaunchNode(Command):
    node: str
    kind: str
    launched: dict[str, Any]


class DecideApproval(Command):
    node: str
    approved: bool
    by: str
    comment: str = Field(default="", max_length=2000)


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
    parent_run_id: str | None = None
    force: tuple[str, ...] = ()
    launched: dict[str, dict[str, Any]] = field(default_factory=dict)  # node -> training/compile started
    approvals: dict[str, dict[str, Any]] = field(default_factory=dict)  # approval node -> its decision
    trigger: dict[str, Any] | None = None  # what fired it, if a trigger did

    @property
    def exists(self) -> bool:
        return bool(self.run_id)


def evolve(state: PipelineRun, evt: DomainEvent) -> PipelineRun:
    if isinstance(evt, PipelineRunRequested):
        return PipelineRun(evt.run_id, evt.pipeline_id, evt.pipeline_version, evt.project_id, evt.workflow,
                           parent_run_id=evt.parent_run_id, force=tuple(evt.force), trigger=evt.trigger)  # fmt: skip
    if isinstance(evt, ApprovalDecided):
        decision = {"approved": evt.approved, "by": evt.by, "comment": evt.comment}
        return replace(state, approvals={**state.approvals, evt.node: decision})
    if isinstance(evt, NodeLaunched):
        return replace(state, launched={**state.launched, evt.node: evt.launched})
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
    if isinstance(cmd, DecideApproval):
        if cmd.node in state.approvals:
            was = "approved" if state.approvals[cmd.node]["approved"] else "rejected"
            raise Conflict(f"node {cmd.node} was {was} already", field="node")
        return [ApprovalDecided(node=cmd.node, approved=cmd.approved, by=cmd.by, comment=cmd.comment)]
    if isinstance(cmd, LaunchNode):
        if cmd.node in state.launched:
            raise Conflict(f"node {cmd.node} was launched already", field="node")
        return [NodeLaunched(node=cmd.node, kind=cmd.kind, launched=cmd.launched)]
    raise Invalid(f"unknown command {type(cmd).__name__}", field="command")


PIPELINE_RUNS: Aggregate[PipelineRun] = Aggregate("pipelinerun", PipelineRun, evolve, decide)


def input_hash(kind: str, params: dict[str, Any], inputs: dict[str, Any]) -> str:
    """What a node's outputs are cached under: its kind, its parameters and the artifacts on its
    input ports (canonical JSON, sha256). A changed parameter or a new upstream artifact changes it."""
    doc = json.dumps({"kind": kind, "params": params, "inputs": inputs}, sort_keys=True, ensure_ascii=False,
                     separators=(",", ":"), default=str)  # fmt: skip
    return hashlib.sha256(doc.encode("utf-8")).hexdigest()


def descendants(defn: dict[str, Any], node: str) -> set[str]:
    """``node`` and every node that reads from it or runs after it, directly or not."""
    children: dict[str, set[str]] = {}
    for nid, n in defn["nodes"].items():
        sources = {str(r).split(".")[0] for r in (n.get("inputs") or {}).values()} | set(n.get("after") or [])
        for src in sources:
            children.setdefault(src, set()).add(nid)
    out, todo = {node}, [node]
    while todo:
        for child in children.get(todo.pop(), set()) - out:
            out.add(child)
            todo.append(child)
    return out
