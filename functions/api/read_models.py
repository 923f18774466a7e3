"""Typed read models: what the main routes answer, for the OpenAPI document.

The services return plain dicts (their shapes are the contract the CLI reads); these models
describe them. They allow extra fields (a service may add one without breaking the document),
and the Schemathesis run checks real answers against them (response schema conformance), so
a model that drifts from what a service returns fails ``make test``.

Where they live: ``CORE`` below (projects, library, uploads, configs) plus one module per area,
``functions/api/read_models_<area>.py``, each with its own ``RESPONSES`` dict keyed by
``(METHOD, path as the router spells it)``. ``collect`` merges them all (found by name: a new
module needs no edit here or in ``app.py``) into ``RESPONSES``, which
``functions.api.openapi.declare`` puts in the document. ``tests/unit/test_openapi_responses.py``
fails for a route without a typed success schema and for a key naming no route.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from functions.api.read_base import FileEntry, Model, OpenUpload, Out, Stamp  # noqa: F401 - re-exported
from functions.api.schemas import Family, Kind, Role


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


class PartUrls(Out):
    parts: list[PartUrl]


class UploadDone(Out):
    """Completed (locally: verified in-process), ``verifying`` (AWS: poll the upload), or the
    state a redelivered verification finds."""

    upload_id: str
    state: str
    path: str | None = None
    size: int | None = None
    sha256: str | None = None
    validation: dict[str, Any] | None = None  # a dataset's data file: its validation record


class UploadAborted(Out):
    upload_id: str
    state: str


class FileDownload(Out):
    path: str
    size: int
    sha256: str
    url: str


class Problem(Out):
    path: str | None
    reason: str
    field: str | None


class DatasetValidation(Out):
    valid: bool
    state: str
    problems: list[Problem]
    pending: list[str]
    labels: list[str]
    counts: dict[str, int]
    rows: int
    splits: dict[str, dict[str, Any]]


class Dataset(Model):
    dataset_id: str
    validation: DatasetValidation


class ConfigRow(Out):
    config_id: str
    project_id: str
    name: str
    description: str
    family: Family | None
    origin: str | None
    origin_ref: str | None
    derived_from: str | None
    version: int
    created: Stamp
    updated: Stamp


class ConfigList(Out):
    items: list[ConfigRow]


class ConfigDeleted(Out):
    config_id: str
    deleted: bool
    version: int


class FieldChange(Out):
    path: str
    kind: Literal["added", "removed", "changed"]
    old: Any = None
    new: Any = None


class DiffSummary(Out):
    added: dict[str, Any]
    removed: dict[str, Any]
    changed: dict[str, dict[str, Any]]


class OldNew(Out):
    old: str
    new: str


class ConfigDiff(Out):
    config_id: str
    from_version: int
    to_version: int
    changes: list[FieldChange]
    summary: DiffSummary
    name: OldNew | None
    description: OldNew | None


class BatchEdited(Out):
    config_id: str
    version: int
    changed: bool


class BatchEdit(Out):
    batch_id: str
    configs: list[BatchEdited]


class ConfigFile(Out):
    """The portable ``tlm.config`` document (``domain.configs.portable``)."""

    format: str
    schema_version: int
    name: str
    description: str
    family: Family
    values: dict[str, Any]


class LimitValues(Out):
    max_params: int
    max_train_memory_bytes: int
    storage_bytes: int
    max_jobs: int
    max_jobs_per_user: int


class Limits(Out):
    project_id: str
    limits: LimitValues
    storage_used: int = Field(description="stored files plus open uploads' declared sizes (checked against the quota)")
    storage_in_open_uploads: int


CORE: dict[tuple[str, str], type[BaseModel]] = {
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
    ("POST", "/models/<model_id>/uploads/<upload_id>/part-urls"): PartUrls,
    ("POST", "/models/<model_id>/uploads/<upload_id>/complete"): UploadDone,
    ("DELETE", "/models/<model_id>/uploads/<upload_id>"): UploadAborted,
    ("GET", "/models/<model_id>/download"): FileDownload,
    ("POST", "/projects/<project_id>/datasets"): Dataset,
    ("GET", "/datasets/<dataset_id>"): Dataset,
    ("POST", "/datasets/<dataset_id>/validate"): Dataset,
    ("GET", "/config-templates"): TemplateList,
    ("GET", "/config-templates/<name>"): Template,
    ("POST", "/projects/<project_id>/configs"): Config,
    ("POST", "/projects/<project_id>/configs/import"): Config,
    ("GET", "/configs/<config_id>"): Config,
    ("PATCH", "/configs/<config_id>"): Config,
    ("POST", "/configs/<config_id>/derive"): Config,
    ("GET", "/configs/<config_id>/history"): History,
    ("GET", "/configs/<config_id>/blame"): Blame,
    ("GET", "/configs/<config_id>/diff"): ConfigDiff,
    ("DELETE", "/configs/<config_id>"): ConfigDeleted,
    ("POST", "/configs/batch-edit"): BatchEdit,
    ("GET", "/projects/<project_id>/configs"): ConfigList,
    ("GET", "/projects/<project_id>/limits"): Limits,
    ("PUT", "/projects/<project_id>/limits"): Limits,
}


def collect(package: str = "functions.api", prefix: str = "read_models_") -> dict[tuple[str, str], type[BaseModel]]:
    """``CORE`` merged with the ``RESPONSES`` of every ``<package>.<prefix><area>`` module, so a
    new router's read models live in a file of their own (no edit here). A route declared by two
    modules is an error (the document would depend on the import order)."""
    import importlib
    import pkgutil

    merged = dict(CORE)
    owner = dict.fromkeys(CORE, __name__)
    pkg = importlib.import_module(package)
    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda i: i.name):
        if not info.name.startswith(prefix):
            continue
        module = importlib.import_module(f"{package}.{info.name}")
        if not isinstance(getattr(module, "RESPONSES", None), dict):  # e.g. an import cycle back to here
            raise ValueError(f"{module.__name__} has no RESPONSES dict (import read models from read_base)")
        for key, model in module.RESPONSES.items():
            if key in merged:
                raise ValueError(f"{key} has a read model in {owner[key]} and in {module.__name__}")
            merged[key], owner[key] = model, module.__name__
    return merged


RESPONSES = collect()
