"""The compile aggregate, stream ``compile-<compile id>``.

Lifecycle: ``requested`` (the request was validated and its workflow run started) -> ``running``
(the workflow's validate step accepted the model) -> ``succeeded`` | ``failed`` | ``cancelled``.
``failed`` and ``cancelled`` may also follow ``requested`` directly (the validate step rejected
the model, or the run was cancelled before it got going).

Steps run at least once (a restarted run repeats the step it was in), so every command that a
step sends is idempotent: repeating it on a compile already in that state decides no events.
A terminal compile takes no other outcome (Conflict).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from domain.aggregate import Aggregate
from domain.errors import Conflict, Invalid, NotFound
from domain.events import Command, DomainEvent, event

Status = Literal["new", "requested", "running", "succeeded", "failed", "cancelled"]
TERMINAL = ("succeeded", "failed", "cancelled")
ARTIFACT_PATHS = ("model.onnx", "compile_report.json", "model.tar.gz")


@event("compile.requested")
class CompileRequested(DomainEvent):
    compile_id: str
    project_id: str
    model_id: str
    model_version: int  # the model stream's version the request saw (which files)
    target: str  # recipe name
    params: dict[str, Any]  # the validated recipe, every field
    run_id: str  # the workflow run that carries it out


@event("compile.started")
class CompileStarted(DomainEvent):
    files: list[str]  # the model files the compile job gets


@event("compile.verified")
class CompileVerified(DomainEvent):
    job_name: str
    verification: dict[str, Any]


@event("compile.succeeded")
class CompileSucceeded(DomainEvent):
    artifacts: dict[str, dict[str, Any]]  # path -> {blob, size, sha256}
    jobs: dict[str, str]  # step -> job name
    report: dict[str, Any] = Field(default_factory=dict)  # compile_report.json summary
    manifest: dict[str, Any] = Field(default_factory=dict)  # the package's manifest.json


@event("compile.failed")
class CompileFailed(DomainEvent):
    reason: str
    error: str = ""
    step: str | None = None


@event("compile.cancelled")
class CompileCancelled(DomainEvent):
    reason: str = ""
    step: str | None = None


class Compile(BaseModel):
    model_config = ConfigDict(frozen=True)

    compile_id: str = ""
    project_id: str = ""
    model_id: str = ""
    model_version: int = 0
    target: str = ""
    params: dict[str, Any] = Field(default_factory=dict)
    run_id: str = ""
    status: Status = "new"
    files: tuple[str, ...] = ()
    jobs: dict[str, str] = Field(default_factory=dict)
    verification: dict[str, Any] | None = None
    report: dict[str, Any] | None = None
    manifest: dict[str, Any] | None = None
    artifacts: dict[str, dict[str, Any]] = Field(default_factory=dict)
    reason: str | None = None
    error: str | None = None
    failed_step: str | None = None

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL


def evolve(state: Compile, e: DomainEvent) -> Compile:
    def upd(**kw: Any) -> Compile:
        return state.model_copy(update=kw)

    if isinstance(e, CompileRequested):
        return Compile(
            compile_id=e.compile_id,
            project_id=e.project_id,
            model_id=e.model_id,
            model_version=e.model_version,
            target=e.target,
            params=dict(e.params),
            run_id=e.run_id,
            status="requested",
        )
    if isinstance(e, CompileStarted):
        return upd(status="running", files=tuple(e.files))
    if isinstance(e, CompileVerified):
        return upd(verification=dict(e.verification), jobs={**state.jobs, "Compile": e.job_name})
    if isinstance(e, CompileSucceeded):
        return upd(
            status="succeeded",
            artifacts=dict(e.artifacts),
            jobs={**state.jobs, **e.jobs},
            report=dict(e.report),
            manifest=dict(e.manifest),
        )
    if isinstance(e, CompileFailed):
        return upd(status="failed", reason=e.reason, error=e.error, failed_step=e.step)
    if isinstance(e, CompileCancelled):
        return upd(status="cancelled", reason=e.reason, failed_step=e.step)
    return state


class RequestCompile(Command):
    compile_id: str
    project_id: str
    model_id: str
    model_version: int
    target: str
    params: dict[str, Any]
    run_id: str


class StartCompile(Command):
    files: list[str]


class RecordVerification(Command):
    job_name: str
    verification: dict[str, Any]


class SucceedCompile(Command):
    artifacts: dict[str, dict[str, Any]]
    jobs: dict[str, str]
    report: dict[str, Any] = Field(default_factory=dict)
    manifest: dict[str, Any] = Field(default_factory=dict)


class FailCompile(Command):
    reason: str
    error: str = ""
    step: str | None = None


class CancelCompile(Command):
    reason: str = ""
    step: str | None = None


def _check_artifacts(artifacts: dict[str, dict[str, Any]]) -> None:
    missing = [p for p in ARTIFACT_PATHS if p not in artifacts]
    if missing:
        raise Invalid(f"a succeeded compile needs {', '.join(missing)}", field="artifacts")
    for path, a in artifacts.items():
        if not {"blob", "size", "sha256"} <= set(a):
            raise Invalid(f"artifact {path!r} needs blob, size and sha256", field=f"artifacts.{path}")


def decide(state: Compile, cmd: Command) -> Sequence[DomainEvent]:
    if isinstance(cmd, RequestCompile):
        if state.status != "new":
            raise Conflict(f"compile {cmd.compile_id!r} exists", field="compile_id")
        return [CompileRequested(**cmd.model_dump(exclude={"command_id"}))]
    if state.status == "new":
        raise NotFound("no such compile", field="compile_id")
    if isinstance(cmd, StartCompile):
        if state.status == "running":
            return []
        if state.status != "requested":
            raise Conflict(f"compile is {state.status}", field="status")
        return [CompileStarted(files=list(cmd.files))]
    if isinstance(cmd, RecordVerification):
        if state.status != "running":
            raise Conflict(f"compile is {state.status}, not running", field="status")
        if state.verification == cmd.verification and state.jobs.get("Compile") == cmd.job_name:
            return []
        return [CompileVerified(job_name=cmd.job_name, verification=cmd.verification)]
    if isinstance(cmd, SucceedCompile):
        if state.status == "succeeded":
            return []
        if state.status != "running":
            raise Conflict(f"compile is {state.status}, not running", field="status")
        _check_artifacts(cmd.artifacts)
        return [CompileSucceeded(**cmd.model_dump(exclude={"command_id"}))]
    if isinstance(cmd, FailCompile):
        if state.status == "failed":
            return []
        if state.terminal:
            raise Conflict(f"compile is already {state.status}", field="status")
        return [CompileFailed(reason=cmd.reason or "failed", error=cmd.error, step=cmd.step)]
    if isinstance(cmd, CancelCompile):
        if state.status == "cancelled":
            return []
        if state.terminal:
            raise Conflict(f"compile is already {state.status}", field="status")
        return [CompileCancelled(reason=cmd.reason, step=cmd.step)]
    raise Invalid(f"unknown command {type(cmd).__name__}", field="command")


COMPILES: Aggregate[Compile] = Aggregate("compile", Compile, evolve, decide)
