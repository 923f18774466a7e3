"""Typed read models: what the main routes answer, for the OpenAPI document.

The services return plain dicts (their shapes are the contract the CLI reads); these models
describe them. They allow extra fields (a service may add one without breaking the document),
and the Schemathesis run checks real answers against them (response schema conformance), so
a model that drifts from what a service returns fails ``make test``.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from functions.api.schemas import Family, Kind, Role, RunStatus


class Out(BaseModel):
    model_config = ConfigDict(extra="allow")


class Stamp(Out):
    at: str = Field(description="ISO 8601 time")
    by: str = Field(description="user id")


class Health(Out):
    status: str
    backend: str


class Me(Out):
    user_id: str


class Project(Out):
    project_id: str
    name: str
    description: str
    members: dict[str, Role]
    version: int


class ProjectSummary(Out):
    project_id: str
    name: str
    description: str
    members: dict[str, Role]
    role: Role
    created: Stamp | None = None


class ProjectList(Out):
    items: list[ProjectSummary]


class FileEntry(Out):
    path: str
    size: int
    sha256: str


class Model(Out):
    model_id: str
    project_id: str
    name: str
    family: Family
    description: str
    tags: list[str]
    license: str
    source: str
    kind: Kind
    files: list[FileEntry]
    deleted: bool
    version: int


class ModelSummary(Out):
    model_id: str
    project_id: str
    name: str
    family: Family
    kind: Kind
    tags: list[str]
    version: int
    file_count: int | None = None
    total_size: int | None = None
    created: Stamp | None = None
    updated: Stamp | None = None


class ModelPage(Out):
    items: list[ModelSummary]
    total: int
    next_cursor: int | None


class Deleted(Out):
    deleted: bool
    version: int


class HistoryEntry(Out):
    version: int
    type: str
    actor: str | None
    correlation_id: str | None = None
    reason: str | None = None
    data: dict[str, Any]


class History(Out):
    items: list[HistoryEntry]


class PartUrl(Out):
    part_number: int
    url: str
    method: str
    headers: dict[str, str]


class UploadStarted(Out):
    upload_id: str
    path: str
    size: int
    sha256: str
    part_size: int
    part_count: int
    parts: list[PartUrl]


class UploadStatus(Out):
    upload_id: str
    state: str
    path: str
    size: int
    part_size: int
    part_count: int
    uploaded_parts: list[int]
    missing_parts: list[int]


class UploadList(Out):
    items: list[UploadStatus]


class Template(Out):
    name: str
    family: Family
    size: str
    description: str
    values: dict[str, Any]


class TemplateList(Out):
    items: list[Template]


class Config(Out):
    config_id: str
    project_id: str
    name: str
    description: str
    family: Family
    values: dict[str, Any]
    version: int


class BlameEntry(Out):
    path: str
    value: Any
    version: int
    event_type: str
    actor: str | None


class Blame(Out):
    items: list[BlameEntry]


class RunSummary(Out):
    run_id: str
    workflow: str
    status: RunStatus


class RunList(Out):
    items: list[RunSummary]


class Items(Out):
    items: list[dict[str, Any]]


RESPONSES: dict[tuple[str, str], type[BaseModel]] = {
    ("GET", "/health"): Health,
    ("GET", "/me"): Me,
    ("POST", "/projects"): Project,
    ("GET", "/projects"): ProjectList,
    ("GET", "/projects/<project_id>"): Project,
    ("PUT", "/projects/<project_id>/members/<user_id>"): Project,
    ("DELETE", "/projects/<project_id>/members/<user_id>"): Project,
    ("POST", "/projects/<project_id>/models"): Model,
    ("GET", "/models"): ModelPage,
    ("GET", "/datasets"): ModelPage,
    ("GET", "/models/<model_id>"): Model,
    ("PATCH", "/models/<model_id>"): Model,
    ("DELETE", "/models/<model_id>"): Deleted,
    ("GET", "/models/<model_id>/history"): History,
    ("POST", "/models/<model_id>/uploads"): UploadStarted,
    ("GET", "/models/<model_id>/uploads"): UploadList,
    ("GET", "/models/<model_id>/uploads/<upload_id>"): UploadStatus,
    ("GET", "/config-templates"): TemplateList,
    ("GET", "/config-templates/<name>"): Template,
    ("POST", "/projects/<project_id>/configs"): Config,
    ("POST", "/projects/<project_id>/configs/import"): Config,
    ("GET", "/configs/<config_id>"): Config,
    ("PATCH", "/configs/<config_id>"): Config,
    ("POST", "/configs/<config_id>/derive"): Config,
    ("GET", "/configs/<config_id>/history"): History,
    ("GET", "/configs/<config_id>/blame"): Blame,
    ("GET", "/runs"): RunList,
    ("GET", "/projects/<project_id>/trainings"): Items,
    ("GET", "/models/<model_id>/compiles"): Items,
}
