"""Model aggregate: a registered model, its files (content-addressed blobs) and open uploads.

A dataset is the same aggregate with ``kind="dataset"`` (same streams, uploads and downloads);
each of its data files (.jsonl/.csv) gets a ``FileValidated`` record (schema, labels, counts, or
the reason it is invalid) once it exists. Events recorded before ``kind`` existed decode as
models.

A file exists only after its upload was verified (size + sha256): ``FileAdded`` is appended by
the finalizer, never by the client. Deletion is a tombstone; the files' blob keys travel in the
event so the blob-reference view can release them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from domain.aggregate import Aggregate
from domain.errors import Conflict, Invalid, NotFound
from domain.events import Command, DomainEvent, event
from domain.library.values import clean_family, clean_file_path, clean_name, clean_sha256, clean_tags

KINDS = ("model", "dataset")


@event("model.registered")
class ModelRegistered(DomainEvent):
    model_id: str
    project_id: str
    name: str
    family: str
    description: str = ""
    tags: list[str] = []
    license: str = ""
    source: str = ""
    kind: str = "model"


@event("model.updated")
class ModelUpdated(DomainEvent):
    description: str | None = None
    tags: list[str] | None = None
    license: str | None = None
    source: str | None = None


@event("model.upload_started")
class UploadStarted(DomainEvent):
    upload_id: str
    path: str
    size: int
    sha256: str
    part_size: int


@event("model.file_added")
class FileAdded(DomainEvent):
    upload_id: str | None = None
    path: str
    blob: str
    size: int
    sha256: str


@event("model.upload_rejected")
class UploadRejected(DomainEvent):
    upload_id: str
    reason: str
    field: str | None = None


@event("model.upload_aborted")
class UploadAborted(DomainEvent):
    upload_id: str


@event("model.file_removed")
class FileRemoved(DomainEvent):
    path: str
    blob: str


@event("model.file_validated")
class FileValidated(DomainEvent):
    """A dataset file was read and checked: ``report`` (format, schema, labels, counts, rows)
    when valid, else ``reason`` (file, line, problem) and ``field`` (text|label|encoding|format)."""

    path: str
    sha256: str
    valid: bool
    report: dict[str, Any] = {}
    reason: str = ""
    field: str | None = None


@event("model.deleted")
class ModelDeleted(DomainEvent):
    blobs: list[str]
    reason: str = ""


class RegisterModel(Command):
    model_id: str
    project_id: str
    name: str
    family: str
    description: str = ""
    tags: list[str] = []
    license: str = ""
    source: str = ""
    kind: str = "model"


class UpdateModel(Command):
    description: str | None = None
    tags: list[str] | None = None
    license: str | None = None
    source: str | None = None


class StartUpload(Command):
    upload_id: str
    path: str
    size: int
    sha256: str
    part_size: int


class AddFile(Command):
    upload_id: str
    blob: str
    size: int
    sha256: str


class RejectUpload(Command):
    upload_id: str
    reason: str
    field: str | None = None


class AbortUpload(Command):
    upload_id: str


class RemoveFile(Command):
    path: str


class DeleteModel(Command):
    reason: str = ""


class RecordValidation(Command):
    path: str
    sha256: str
    valid: bool
    report: dict[str, Any] = {}
    reason: str = ""
    field: str | None = None


@dataclass(frozen=True)
class ModelFile:
    path: str
    blob: str
    size: int
    sha256: str


@dataclass(frozen=True)
class FileValidation:
    sha256: str
    valid: bool
    report: dict[str, Any]
    reason: str
    field: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"valid": self.valid, "report": self.report, "reason": self.reason, "field": self.field}


@dataclass(frozen=True)
class PendingUpload:
    upload_id: str
    path: str
    size: int
    sha256: str
    part_size: int


@dataclass(frozen=True)
class Model:
    model_id: str = ""
    project_id: str = ""
    name: str = ""
    family: str = ""
    description: str = ""
    tags: tuple[str, ...] = ()
    license: str = ""
    source: str = ""
    kind: str = "model"
    files: dict[str, ModelFile] = field(default_factory=dict)
    validations: dict[str, FileValidation] = field(default_factory=dict)  # path -> (datasets)
    uploads: dict[str, PendingUpload] = field(default_factory=dict)
    rejected: dict[str, str] = field(default_factory=dict)  # upload_id -> reason
    deleted: bool = False
    created_at: datetime | None = None

    @property
    def exists(self) -> bool:
        return bool(self.model_id) and not self.deleted


MAX_FILE_BYTES = 5 * 1024**4  # 5 TiB, S3's object limit


def evolve(state: Model, evt: DomainEvent) -> Model:
    if isinstance(evt, ModelRegistered):
        return Model(
            model_id=evt.model_id,
            project_id=evt.project_id,
            name=evt.name,
            family=evt.family,
            description=evt.description,
            tags=tuple(evt.tags),
            license=evt.license,
            source=evt.source,
            kind=evt.kind,
        )
    if isinstance(evt, ModelUpdated):
        changes = {k: v for k, v in evt.model_dump().items() if v is not None}
        if "tags" in changes:
            changes["tags"] = tuple(changes["tags"])
        return replace(state, **changes)
    if isinstance(evt, UploadStarted):
        up = PendingUpload(evt.upload_id, evt.path, evt.size, evt.sha256, evt.part_size)
        return replace(state, uploads={**state.uploads, evt.upload_id: up})
    if isinstance(evt, FileAdded):
        uploads = {k: v for k, v in state.uploads.items() if k != evt.upload_id}
        f = ModelFile(evt.path, evt.blob, evt.size, evt.sha256)
        validations = {k: v for k, v in state.validations.items() if k != evt.path}
        return replace(state, uploads=uploads, files={**state.files, evt.path: f}, validations=validations)
    if isinstance(evt, FileValidated):
        v = FileValidation(evt.sha256, evt.valid, dict(evt.report), evt.reason, evt.field)
        return replace(state, validations={**state.validations, evt.path: v})
    if isinstance(evt, UploadRejected):
        uploads = {k: v for k, v in state.uploads.items() if k != evt.upload_id}
        return replace(state, uploads=uploads, rejected={**state.rejected, evt.upload_id: evt.reason})
    if isinstance(evt, UploadAborted):
        return replace(state, uploads={k: v for k, v in state.uploads.items() if k != evt.upload_id})
    if isinstance(evt, FileRemoved):
        return replace(
            state,
            files={k: v for k, v in state.files.items() if k != evt.path},
            validations={k: v for k, v in state.validations.items() if k != evt.path},
        )
    if isinstance(evt, ModelDeleted):
        return replace(state, deleted=True, uploads={})
    return state


def decide(state: Model, cmd: Command) -> Sequence[DomainEvent]:
    if isinstance(cmd, RegisterModel):
        if state.model_id:
            raise Conflict("model exists", field="model_id")
        if cmd.kind not in KINDS:
            raise Invalid(f"unknown kind {cmd.kind!r}; one of {', '.join(KINDS)}", field="kind")
        return [
            ModelRegistered(
                model_id=cmd.model_id,
                project_id=cmd.project_id,
                name=clean_name(cmd.name),
                family=clean_family(cmd.family),
                description=cmd.description.strip(),
                tags=clean_tags(cmd.tags),
                license=cmd.license.strip(),
                source=cmd.source.strip(),
                kind=cmd.kind,
            )
        ]
    if not state.exists:
        raise NotFound("no such model", field="model_id")
    if isinstance(cmd, UpdateModel):
        tags = clean_tags(cmd.tags) if cmd.tags is not None else None
        return [ModelUpdated(description=cmd.description, tags=tags, license=cmd.license, source=cmd.source)]
    if isinstance(cmd, StartUpload):
        path = clean_file_path(cmd.path)
        if cmd.size < 0 or cmd.size > MAX_FILE_BYTES:
            raise Invalid(f"size must be between 0 and {MAX_FILE_BYTES}", field="size")
        if any(u.path == path for u in state.uploads.values()):
            raise Conflict(f"an upload of {path!r} is already open; resume or abort it", field="path")
        return [
            UploadStarted(
                upload_id=cmd.upload_id,
                path=path,
                size=cmd.size,
                sha256=clean_sha256(cmd.sha256),
                part_size=cmd.part_size,
            )
        ]
    if isinstance(cmd, AddFile):
        up = _open_upload(state, cmd.upload_id)
        if cmd.size != up.size:
            raise Invalid(f"uploaded {cmd.size} bytes, declared {up.size}", field="size")
        if cmd.sha256 != up.sha256:
            raise Invalid("sha256 of the uploaded bytes differs from the declared one", field="sha256")
        added = FileAdded(upload_id=up.upload_id, path=up.path, blob=cmd.blob, size=cmd.size, sha256=cmd.sha256)
        old = state.files.get(up.path)
        if old is not None and old.blob != cmd.blob:  # replacing a file releases the old blob
            return [FileRemoved(path=up.path, blob=old.blob), added]
        return [added]
    if isinstance(cmd, RejectUpload):
        _open_upload(state, cmd.upload_id)
        return [UploadRejected(upload_id=cmd.upload_id, reason=cmd.reason, field=cmd.field)]
    if isinstance(cmd, AbortUpload):
        _open_upload(state, cmd.upload_id)
        return [UploadAborted(upload_id=cmd.upload_id)]
    if isinstance(cmd, RemoveFile):
        path = clean_file_path(cmd.path)
        if path not in state.files:
            raise NotFound(f"no file {path!r}", field="path")
        return [FileRemoved(path=path, blob=state.files[path].blob)]
    if isinstance(cmd, RecordValidation):
        if state.kind != "dataset":
            raise Invalid("only dataset files are validated", field="kind")
        f = state.files.get(cmd.path)
        if f is None or f.sha256 != cmd.sha256:
            raise Conflict(f"{cmd.path!r} changed or is gone since it was read", field="path")
        done = state.validations.get(cmd.path)
        if done is not None and done.sha256 == cmd.sha256:
            return []  # already recorded for these bytes (a redelivered trigger)
        return [
            FileValidated(
                path=cmd.path, sha256=cmd.sha256, valid=cmd.valid, report=cmd.report, reason=cmd.reason,
                field=cmd.field,
            )
        ]  # fmt: skip
    if isinstance(cmd, DeleteModel):
        return [ModelDeleted(blobs=sorted({f.blob for f in state.files.values()}), reason=cmd.reason)]
    raise Invalid(f"unknown command {type(cmd).__name__}")


def _open_upload(state: Model, upload_id: str) -> PendingUpload:
    try:
        return state.uploads[upload_id]
    except KeyError:
        raise NotFound(f"no open upload {upload_id!r}", field="upload_id") from None


MODELS = Aggregate[Model]("model", Model, evolve, decide)


# ---------------------------------------------------------------- unique names per project


@event("model_name.claimed")
class NameClaimed(DomainEvent):
    model_id: str


@event("model_name.released")
class NameReleased(DomainEvent):
    model_id: str


class ClaimName(Command):
    """Claim a project-unique name. Registering a model appends this claim and the model's
    registration in one write, and deleting it releases the name in the same write as the
    deletion, so the holder is always a live model. ``replaces`` names a holder the service
    found gone (deleted, or never registered): logs written before the atomic writes can hold
    such claims. It is a specific model id, so a retry that finds a new holder still refuses."""

    model_id: str
    replaces: str | None = None


class ReleaseName(Command):
    model_id: str


def _name_evolve(holder: str | None, evt: DomainEvent) -> str | None:
    if isinstance(evt, NameClaimed):
        return evt.model_id
    if isinstance(evt, NameReleased):
        return None if holder == evt.model_id else holder
    return holder


def _name_decide(holder: str | None, cmd: Command) -> Sequence[DomainEvent]:
    if isinstance(cmd, ClaimName):
        if holder is not None and holder != cmd.model_id and holder != cmd.replaces:
            raise Conflict("a model with this name exists in the project", field="name")
        return [] if holder == cmd.model_id else [NameClaimed(model_id=cmd.model_id)]
    if isinstance(cmd, ReleaseName):
        return [NameReleased(model_id=cmd.model_id)] if holder == cmd.model_id else []
    raise Invalid(f"unknown command {type(cmd).__name__}")


MODEL_NAMES = Aggregate[str | None]("modelname", lambda: None, _name_evolve, _name_decide)
