"""Typed read models of the pipeline and project-home routes (issue 15), merged into the OpenAPI
document next to ``functions.api.read_models.RESPONSES`` (same rules: extra fields allowed)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from functions.api.read_base import Out


class NodeKind(Out):
    kind: str
    summary: str
    available: bool
    inputs: list[dict[str, Any]]
    outputs: list[dict[str, Any]]
    params_schema: dict[str, Any]


class NodeKinds(Out):
    items: list[NodeKind]


class Validated(Out):
    valid: bool
    definition: dict[str, Any]
    stages: list[list[str]]


class Pipeline(Out):
    pipeline_id: str
    project_id: str
    name: str
    description: str
    version: int
    definition: dict[str, Any]
    stages: list[list[str]]
    not_available: list[str]


class PipelineSummary(Out):
    pipeline_id: str
    project_id: str
    name: str
    version: int
    nodes: int


class PipelineList(Out):
    items: list[PipelineSummary]


class PipelineDeleted(Out):
    pipeline_id: str
    deleted: bool


class PipelineVersion(Out):
    version: int
    type: str
    actor: str
    occurred_at: str
    changes: list[dict[str, Any]]
    nodes_changed: list[str]


class PipelineHistory(Out):
    items: list[PipelineVersion]


class PipelineDiff(Out):
    pipeline_id: str
    from_version: int
    to_version: int
    nodes: dict[str, list[str]]
    changes: list[dict[str, Any]]


class NodeBlame(Out):
    node: str
    kind: str
    added: dict[str, Any]
    changed: dict[str, Any]


class PipelineBlame(Out):
    items: list[NodeBlame]


class CompiledWorkflow(Out):
    workflow: dict[str, Any]
    asl: dict[str, Any]


class ActivityEntry(Out):
    at: str
    actor: str
    type: str
    kind: str
    entity_id: str
    stream_id: str
    version: int


class Activity(Out):
    items: list[ActivityEntry]
    next_cursor: str | None


class Members(Out):
    project_id: str
    members: dict[str, str]


class PipelineFile(Out):
    """The pipeline file (``GET /pipelines/{id}/export``): the same document as YAML or JSON."""

    format: str
    schema_version: int
    name: str
    description: str
    nodes: list[dict[str, Any]]


class Exported(Out):
    project_id: str
    archive: str
    size: int
    sha256: str
    url: str
    streams: int
    events: int
    blobs: int


class Imported(Out):
    project_id: str
    streams: int
    events: int
    blobs: int


class PipelineRunStarted(Out):
    run_id: str
    pipeline_id: str
    pipeline_version: int
    workflow: str


class PipelineRun(Out):
    run_id: str
    pipeline_id: str
    pipeline_version: int
    status: str | None
    nodes: dict[str, dict[str, Any]]


class PipelineRunSummary(Out):
    run_id: str
    pipeline_version: int
    parent_run_id: str | None = None
    status: str | None
    started_at: str | None = None
    ended_at: str | None = None
    duration_s: float | None = None
    jobs_launched: int | None = None


class PipelineRuns(Out):
    items: list[PipelineRunSummary]


RESPONSES: dict[tuple[str, str], type[BaseModel]] = {
    ("GET", "/pipeline-kinds"): NodeKinds,
    ("POST", "/pipelines/validate"): Validated,
    ("POST", "/projects/<project_id>/pipelines"): Pipeline,
    ("GET", "/projects/<project_id>/pipelines"): PipelineList,
    ("GET", "/pipelines/<pipeline_id>"): Pipeline,
    ("PUT", "/pipelines/<pipeline_id>"): Pipeline,
    ("DELETE", "/pipelines/<pipeline_id>"): PipelineDeleted,
    ("GET", "/pipelines/<pipeline_id>/history"): PipelineHistory,
    ("GET", "/pipelines/<pipeline_id>/diff"): PipelineDiff,
    ("GET", "/pipelines/<pipeline_id>/blame"): PipelineBlame,
    ("GET", "/pipelines/<pipeline_id>/workflow"): CompiledWorkflow,
    ("GET", "/projects/<project_id>/activity"): Activity,
    ("POST", "/projects/<project_id>/members"): Members,
    ("POST", "/projects/<project_id>/owner"): Members,
    ("POST", "/projects/<project_id>/export"): Exported,
    ("POST", "/projects/import"): Imported,
    ("POST", "/pipelines/<pipeline_id>/runs"): PipelineRunStarted,
    ("GET", "/pipeline-runs/<run_id>"): PipelineRun,
    ("GET", "/pipelines/<pipeline_id>/runs"): PipelineRuns,
    ("POST", "/pipeline-runs/<run_id>/retry"): PipelineRunStarted,
    ("POST", "/pipeline-runs/<run_id>/cancel"): PipelineRun,
    ("POST", "/pipeline-runs/<run_id>/approvals/<node>"): PipelineRun,
}
