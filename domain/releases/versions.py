"""Model versions, stream ``modelversion-<version id>``, numbered per model by the registry
stream ``versionregistry-<model id>`` (both written in one batch, so numbers never collide).

A version is an immutable snapshot: the files (path -> content address), the config (id and
version) it was trained from, the compile and package used, metrics and lineage (training,
dataset, parent version). Only its serving parameters change (``modelversion.params_updated``,
history kept) and its approvals accumulate (``modelversion.approval_requested`` /
``approved`` / ``rejected``, each with the evidence it was decided on).

Approval rule: someone other than the requester approves (``Forbidden`` otherwise).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from domain.aggregate import Aggregate
from domain.errors import Conflict, Forbidden, Invalid, NotFound
from domain.events import Command, DomainEvent, event

SourceKind = Literal["training", "compile", "upload"]
ONNX = "model.onnx"
PACKAGE = "model.tar.gz"


def version_id_of(model_id: str, number: int) -> str:
    return f"{model_id}-v{number}"


# ------------------------------------------------------------------ events


@event("modelversion.created")
class VersionCreated(DomainEvent):
    version_id: str
    project_id: str
    model_id: str
    number: int
    source: SourceKind
    files: dict[str, dict[str, Any]]  # path -> {blob, size, sha256?}
    config: dict[str, Any] = Field(default_factory=dict)  # {id, version}
    compile_id: str | None = None
    compile_report: dict[str, Any] = Field(default_factory=dict)
    package: dict[str, Any] = Field(default_factory=dict)  # the package manifest
    metrics: dict[str, float] = Field(default_factory=dict)
    lineage: dict[str, Any] = Field(default_factory=dict)  # training_id, dataset_id, parent_version_id
    params: dict[str, Any] = Field(default_factory=dict)
    description: str = ""


@event("modelversion.params_updated")
class ParamsUpdated(DomainEvent):
    params: dict[str, Any]
    revision: int


@event("modelversion.approval_requested")
class ApprovalRequested(DomainEvent):
    stage: str
    requested_by: str
    evidence: dict[str, Any] = Field(default_factory=dict)


@event("modelversion.approved")
class VersionApproved(DomainEvent):
    stage: str
    approved_by: str
    requested_by: str
    evidence: dict[str, Any] = Field(default_factory=dict)
    comment: str = ""


@event("modelversion.rejected")
class VersionRejected(DomainEvent):
    stage: str
    rejected_by: str
    comment: str = ""


@event("versionregistry.version_added")
class VersionAdded(DomainEvent):
    number: int
    version_id: str


# ------------------------------------------------------------------ state


class Approval(BaseModel):
    model_config = ConfigDict(frozen=True)

    stage: str
    status: Literal["requested", "approved", "rejected"]
    requested_by: str
    decided_by: str | None = None
    evidence: dict[str, Any] = Field(default_factory=dict)
    comment: str = ""


class ModelVersion(BaseModel):
    model_config = ConfigDict(frozen=True)

    version_id: str = ""
    project_id: str = ""
    model_id: str = ""
    number: int = 0
    source: str = ""
    files: dict[str, dict[str, Any]] = Field(default_factory=dict)
    config: dict[str, Any] = Field(default_factory=dict)
    compile_id: str | None = None
    compile_report: dict[str, Any] = Field(default_factory=dict)
    package: dict[str, Any] = Field(default_factory=dict)
    metrics: dict[str, float] = Field(default_factory=dict)
    lineage: dict[str, Any] = Field(default_factory=dict)
    params: dict[str, Any] = Field(default_factory=dict)
    params_revision: int = 0
    description: str = ""
    created_by: str = ""
    approvals: dict[str, Approval] = Field(default_factory=dict)  # stage -> latest

    @property
    def exists(self) -> bool:
        return bool(self.version_id)

    @property
    def compiled(self) -> bool:
        """Has what an onnxruntime deployment serves: an ONNX graph (and, from a compile, its package)."""
        return ONNX in self.files

    def approved_for(self, stage: str) -> bool:
        a = self.approvals.get(stage)
        return a is not None and a.status == "approved"


def evolve(state: ModelVersion, e: DomainEvent) -> ModelVersion:
    if isinstance(e, VersionCreated):
        return ModelVersion(**e.model_dump())
    if isinstance(e, ParamsUpdated):
        return state.model_copy(update={"params": dict(e.params), "params_revision": e.revision})
    if isinstance(e, ApprovalRequested):
        a = Approval(stage=e.stage, status="requested", requested_by=e.requested_by, evidence=e.evidence)
        return state.model_copy(update={"approvals": {**state.approvals, e.stage: a}})
    if isinstance(e, VersionApproved):
        a = Approval(stage=e.stage, status="approved", requested_by=e.requested_by, decided_by=e.approved_by,
                     evidence=e.evidence, comment=e.comment)  # fmt: skip
        return state.model_copy(update={"approvals": {**state.approvals, e.stage: a}})
    if isinstance(e, VersionRejected):
        prev = state.approvals.get(e.stage)
        a = Approval(stage=e.stage, status="rejected", requested_by=prev.requested_by if prev else "",
                     decided_by=e.rejected_by, comment=e.comment)  # fmt: skip
        return state.model_copy(update={"approvals": {**state.approvals, e.stage: a}})
    return state


# ------------------------------------------------------------------ commands


class CreateVersion(Command):
    version_id: str
    project_id: str
    model_id: str
    number: int
    source: SourceKind
    files: dict[str, dict[str, Any]]
    config: dict[str, Any] = Field(default_factory=dict)
    compile_id: str | None = None
    compile_report: dict[str, Any] = Field(default_factory=dict)
    package: dict[str, Any] = Field(default_factory=dict)
    metrics: dict[str, float] = Field(default_factory=dict)
    lineage: dict[str, Any] = Field(default_factory=dict)
    params: dict[str, Any] = Field(default_factory=dict)
    description: str = ""


class UpdateParams(Command):
    params: dict[str, Any]  # the full validated parameters


class RequestApproval(Command):
    stage: str
    requested_by: str
    evidence: dict[str, Any] = Field(default_factory=dict)


class Approve(Command):
    stage: str
    approver: str
    evidence: dict[str, Any] = Field(default_factory=dict)
    comment: str = ""


class Reject(Command):
    stage: str
    rejecter: str
    comment: str = ""


def _pending(state: ModelVersion, stage: str) -> Approval:
    a = state.approvals.get(stage)
    if a is None or a.status != "requested":
        raise Conflict(f"no approval for {stage!r} is pending on {state.version_id}", field="stage")
    return a


def decide(state: ModelVersion, cmd: Command) -> Sequence[DomainEvent]:
    if isinstance(cmd, CreateVersion):
        if state.exists:
            raise Conflict(f"version {cmd.version_id} exists", field="version_id")
        if not cmd.files:
            raise Invalid("a version needs files", field="files")
        return [VersionCreated(**cmd.model_dump(exclude={"command_id"}))]
    if not state.exists:
        raise NotFound("no such version", field="version_id")
    if isinstance(cmd, UpdateParams):
        if cmd.params == state.params:
            return []
        return [ParamsUpdated(params=dict(cmd.params), revision=state.params_revision + 1)]
    if isinstance(cmd, RequestApproval):
        a = state.approvals.get(cmd.stage)
        if a is not None and a.status == "approved":
            raise Conflict(f"{state.version_id} is already approved for {cmd.stage}", field="stage")
        if a is not None and a.status == "requested" and a.requested_by == cmd.requested_by:
            return []
        return [ApprovalRequested(stage=cmd.stage, requested_by=cmd.requested_by, evidence=cmd.evidence)]
    if isinstance(cmd, Approve):
        a = _pending(state, cmd.stage)
        if cmd.approver == a.requested_by:
            raise Forbidden("someone other than the requester must approve", field="approver")
        return [VersionApproved(stage=cmd.stage, approved_by=cmd.approver, requested_by=a.requested_by,
                                evidence=cmd.evidence or a.evidence, comment=cmd.comment)]  # fmt: skip
    if isinstance(cmd, Reject):
        _pending(state, cmd.stage)
        return [VersionRejected(stage=cmd.stage, rejected_by=cmd.rejecter, comment=cmd.comment)]
    raise Invalid(f"unknown command {type(cmd).__name__}", field="command")


VERSIONS: Aggregate[ModelVersion] = Aggregate("modelversion", ModelVersion, evolve, decide)


# ------------------------------------------------------------------ the per-model registry (numbers)


class Registry(BaseModel):
    model_config = ConfigDict(frozen=True)

    versions: tuple[str, ...] = ()

    @property
    def next_number(self) -> int:
        return len(self.versions) + 1


class AddVersion(Command):
    number: int
    version_id: str


def _evolve_registry(state: Registry, e: DomainEvent) -> Registry:
    if isinstance(e, VersionAdded):
        return Registry(versions=(*state.versions, e.version_id))
    return state


def _decide_registry(state: Registry, cmd: Command) -> Sequence[DomainEvent]:
    if isinstance(cmd, AddVersion):
        if cmd.number != state.next_number:
            raise Conflict(f"version number {cmd.number} is taken", field="number")
        return [VersionAdded(number=cmd.number, version_id=cmd.version_id)]
    raise Invalid(f"unknown command {type(cmd).__name__}", field="command")


REGISTRY: Aggregate[Registry] = Aggregate("versionregistry", Registry, _evolve_registry, _decide_registry)
