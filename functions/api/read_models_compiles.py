"""Read models of compiles (``runtime.services.compiles``: ``_doc``, ``logs``, ``download``)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel

from functions.api.read_base import Out
from functions.api.read_models_runs import Step

CompileStatus = Literal["new", "requested", "running", "succeeded", "failed", "cancelled"]  # domain.compiles


class Artifact(Out):
    blob: str
    size: int
    sha256: str


class CompileRunInfo(Out):
    status: str
    current_step: str | None
    started_at: str | None
    ended_at: str | None
    duration_s: float | None


class Compile(Out):
    compile_id: str
    project_id: str
    model_id: str
    model_version: int
    target: str
    params: dict[str, Any]
    status: CompileStatus
    run_id: str
    jobs: dict[str, str]
    verification: dict[str, Any] | None
    report: dict[str, Any] | None
    manifest: dict[str, Any] | None
    artifacts: dict[str, Artifact]
    reason: str | None
    error: str | None
    failed_step: str | None
    run: CompileRunInfo | None = None  # not in lists
    steps: list[Step] | None = None  # not in lists


class CompileList(Out):
    items: list[Compile]


class CompileLogs(Out):
    compile_id: str
    status: CompileStatus
    terminal: bool
    job: str | None
    lines: list[str]
    next: int


class ArtifactDownload(Artifact):
    path: str
    url: str


RESPONSES: dict[tuple[str, str], type[BaseModel]] = {
    ("POST", "/models/<model_id>/compiles"): Compile,
    ("GET", "/models/<model_id>/compiles"): CompileList,
    ("GET", "/compiles/<compile_id>"): Compile,
    ("GET", "/compiles/<compile_id>/logs"): CompileLogs,
    ("POST", "/compiles/<compile_id>/cancel"): Compile,
    ("GET", "/compiles/<compile_id>/download"): ArtifactDownload,
}
