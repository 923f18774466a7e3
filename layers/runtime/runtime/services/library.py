"""Model library use cases: projects, models, uploads, search, download, history, delete.

Authorization happens here, on every call (runtime.services.access). Writes go through
``execute`` (optimistic concurrency + idempotency keys). Lists and search read views; a single
model is read from its stream (strongly consistent, and ``as_of`` for free).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from domain.errors import Conflict, Invalid, NotFound
from domain.events import new_id
from domain.library import models as m
from domain.library import projects as p
from domain.library.datasets import DataError, dataset_summary, file_report, is_data_file
from domain.library.values import clean_file_path, clean_sha256, name_key
from domain.records import RecordedEvent
from runtime.ports import BlobStore, EventStore, ViewStore
from runtime.search.query import SearchQuery, search_partitions
from runtime.services.access import Access
from runtime.services.commands import Caller, Change, Decision, decide, execute, execute_many, load

SYSTEM = Caller(user_id="system:finalizer")
MAX_PARTS = 10_000
DEFAULT_PART = 8 * 1024 * 1024


def _file_item(state: m.Model, f: m.ModelFile) -> dict[str, Any]:
    item: dict[str, Any] = {"path": f.path, "size": f.size, "sha256": f.sha256}
    if state.kind == "dataset" and is_data_file(f.path):
        v = state.validations.get(f.path)
        item["validation"] = v.to_dict() if v is not None and v.sha256 == f.sha256 else None
    return item


def dataset_state(state: m.Model) -> dict[str, Any]:
    """Validity of a dataset from its files' validation records (``domain.library.datasets``)."""
    records = {}
    for path, f in state.files.items():
        v = state.validations.get(path)
        records[path] = v.to_dict() if v is not None and v.sha256 == f.sha256 else None
    return dataset_summary(records)


def model_doc(state: m.Model, version: int) -> dict[str, Any]:
    doc = {
        "model_id": state.model_id,
        "project_id": state.project_id,
        "name": state.name,
        "family": state.family,
        "description": state.description,
        "tags": list(state.tags),
        "license": state.license,
        "source": state.source,
        "kind": state.kind,
        "files": [_file_item(state, f) for f in sorted(state.files.values(), key=lambda f: f.path)],
        "open_uploads": [
            {"upload_id": u.upload_id, "path": u.path, "size": u.size, "sha256": u.sha256}
            for u in state.uploads.values()
        ],
        "deleted": state.deleted,
        "version": version,
    }
    if state.kind == "dataset":
        doc["dataset_id"] = state.model_id
        doc["validation"] = dataset_state(state)
    return doc


def history_item(r: RecordedEvent) -> dict[str, Any]:
    return {
        "version": r.version,
        "type": r.type,
        "actor": r.metadata.actor,
        "at": r.recorded_at.isoformat(),
        "correlation_id": r.metadata.correlation_id,
        "reason": r.metadata.reason,
        "data": r.data,
    }


class LibraryService:
    def __init__(
        self,
        store: EventStore,
        views: ViewStore,
        blobs: BlobStore,
        *,
        min_part_bytes: int = 5 * 1024 * 1024,
        max_part_bytes: int = 64 * 1024 * 1024,
        on_assembled: Callable[[str], dict[str, Any] | None] | None = None,
        check_upload: Callable[[str, int], None] | None = None,
    ) -> None:
        self.store = store
        self.views = views
        self.blobs = blobs
        self.access = Access(store)
        self.min_part = min_part_bytes
        self.max_part = max_part_bytes
        # Called with the upload id once the parts are joined. Locally it runs the S3-trigger
        # handler in-process (same code path as AWS, where S3 ObjectCreated invokes it).
        self.on_assembled = on_assembled
        # (project id, size) -> None or TooLarge: storage quota and free disk (runtime.services.limits)
        self.check_upload = check_upload

    # ------------------------------------------------------------------ projects
    def create_project(self, caller: Caller, name: str, description: str = "") -> dict[str, Any]:
        pid = new_id()[:12]
        cmd = p.CreateProject(project_id=pid, name=name, description=description, owner=caller.user_id)
        out = execute(self.store, p.PROJECTS, pid, cmd, caller)
        return self._project_doc(out.state, out.version)

    def get_project(self, caller: Caller, project_id: str) -> dict[str, Any]:
        project = self.access.require(caller, project_id, "viewer")
        return self._project_doc(project, self.store.version(p.PROJECTS.stream_id(project_id)))

    def list_projects(self, caller: Caller) -> list[dict[str, Any]]:
        out = []
        for _, row in self.views.scan("memberships", prefix=f"{caller.user_id}/"):
            proj = self.views.get("projects", row["project_id"])
            if proj is not None:
                out.append({**proj, "role": row["role"]})
        return sorted(out, key=lambda r: r["created"]["at"])

    def set_member(self, caller: Caller, project_id: str, user_id: str, role: str) -> dict[str, Any]:
        self.access.require(caller, project_id, "owner")
        out = execute(self.store, p.PROJECTS, project_id, p.SetMember(user_id=user_id, role=role), caller)
        return self._project_doc(out.state, out.version)

    def remove_member(self, caller: Caller, project_id: str, user_id: str) -> dict[str, Any]:
        self.access.require(caller, project_id, "owner")
        out = execute(self.store, p.PROJECTS, project_id, p.RemoveMember(user_id=user_id), caller)
        return self._project_doc(out.state, out.version)

    @staticmethod
    def _project_doc(project: p.Project, version: int) -> dict[str, Any]:
        return {
            "project_id": project.project_id,
            "name": project.name,
            "description": project.description,
            "members": dict(project.members),
            "version": version,
        }

    # ------------------------------------------------------------------ models
    def register_model(self, caller: Caller, project_id: str, **fields: Any) -> dict[str, Any]:
        """The registration and the name claim are one write (``execute_many``): two racing
        registrations of one name leave exactly one model; the other gets Conflict (409)."""
        self.access.require(caller, project_id, "editor")
        model_id = new_id()[:16]
        cmd = m.RegisterModel(model_id=model_id, project_id=project_id, **fields)
        entity = self._name_stream(project_id, cmd.name, cmd.kind)

        def plan() -> list[Decision]:
            holder, version = load(self.store, m.MODEL_NAMES, entity)
            gone = holder if holder is not None and holder != model_id and self._holder_gone(holder) else None
            claim = m.ClaimName(model_id=model_id, replaces=gone)
            model = decide(self.store, m.MODELS, model_id, cmd)  # validates everything first
            return [model, Decision(m.MODEL_NAMES, entity, claim, holder, version, m.MODEL_NAMES.decide(holder, claim))]

        out = execute_many(self.store, plan, caller, retries=3)[0]
        return model_doc(out.state, out.version)

    def _name_stream(self, project_id: str, name: str, kind: str = "model") -> str:
        """Names are unique per project and kind (a dataset may share a model's name)."""
        import hashlib

        key = name_key(name) if kind == "model" else f"{kind}:{name_key(name)}"
        return f"{project_id}.{hashlib.sha256(key.encode()).hexdigest()[:32]}"

    def _holder_gone(self, holder: str) -> bool:
        """Only logs from before the atomic writes hold a claim whose model was never registered
        (a crash between two appends) or was deleted without releasing it; such a claim may be
        taken over. No clock decides it: registration and claim now commit together."""
        records = self.store.read(m.MODELS.stream_id(holder))
        return not records or m.MODELS.fold(r.event() for r in records).deleted

    def _model(self, caller: Caller, model_id: str, role: str) -> tuple[m.Model, int]:
        state, version = load(self.store, m.MODELS, model_id)
        if not state.exists:
            raise NotFound(f"no model {model_id!r}", field="model_id")
        self.access.require(caller, state.project_id, role)
        return state, version

    def get_model(self, caller: Caller, model_id: str, *, as_of: datetime | None = None) -> dict[str, Any]:
        if as_of is None:
            state, version = self._model(caller, model_id, "viewer")
            return model_doc(state, version)
        records = self.store.read(m.MODELS.stream_id(model_id), until_time=as_of)
        state = m.MODELS.fold(r.event() for r in records)
        if not state.model_id:
            raise NotFound(f"model {model_id!r} did not exist at {as_of.isoformat()}", field="as_of")
        self.access.require(caller, state.project_id, "viewer")
        return {**model_doc(state, records[-1].version), "as_of": as_of.isoformat()}

    def update_model(self, caller: Caller, model_id: str, **changes: Any) -> dict[str, Any]:
        self._model(caller, model_id, "editor")
        out = execute(self.store, m.MODELS, model_id, m.UpdateModel(**changes), caller, retries=3)
        return model_doc(out.state, out.version)

    def delete_model(self, caller: Caller, model_id: str, reason: str = "") -> dict[str, Any]:
        """The deletion and the release of the name are one write: the name is free at once."""
        state, _ = self._model(caller, model_id, "owner")
        entity = self._name_stream(state.project_id, state.name, state.kind)
        out = execute_many(
            self.store,
            [
                Change(m.MODELS, model_id, m.DeleteModel(reason=reason)),
                Change(m.MODEL_NAMES, entity, m.ReleaseName(model_id=model_id)),
            ],
            caller,
        )[0]
        for upload_id in state.uploads:
            self.blobs.abort_upload(upload_id)
        return {"model_id": model_id, "deleted": True, "version": out.version}

    def history(self, caller: Caller, model_id: str) -> list[dict[str, Any]]:
        records = self.store.read(m.MODELS.stream_id(model_id))
        if not records:
            raise NotFound(f"no model {model_id!r}", field="model_id")
        project_id = records[0].data["project_id"]
        self.access.require(caller, project_id, "viewer")
        return [history_item(r) for r in records]

    def _visible_projects(self, caller: Caller) -> set[str]:
        """Candidate projects come from the memberships view; each is re-checked on its own stream,
        so a removed member stops seeing it at once, not when the projector catches up."""
        visible = set()
        for _, row in self.views.scan("memberships", prefix=f"{caller.user_id}/"):
            project = self.access.project(row["project_id"])
            if project.role_of(caller.user_id) is not None:
                visible.add(row["project_id"])
        return visible

    def list_models(
        self,
        caller: Caller,
        *,
        project_id: str | None = None,
        sort: str = "-updated",
        limit: int = 50,
        cursor: int = 0,
        query: SearchQuery | None = None,
        kind: str = "model",
    ) -> dict[str, Any]:
        """``kind``: model | dataset | all (rows written before kinds existed are models)."""
        if kind not in (*m.KINDS, "all"):
            raise Invalid(f"kind must be one of {', '.join((*m.KINDS, 'all'))}", field="kind")
        if project_id is not None:
            self.access.require(caller, project_id, "viewer")
            projects = {project_id}
        else:
            projects = self._visible_projects(caller)
        if limit < 1 or limit > 500:
            raise Invalid("limit must be between 1 and 500", field="limit")
        found, searched = search_partitions(  # each project's partition; searches read the index
            self.views, "models", projects, query, keep=lambda r: kind == "all" or r.get("kind", "model") == kind
        )
        ranked = found if searched else _sorted(found, sort)
        page = ranked[cursor : cursor + limit]
        nxt = cursor + limit if cursor + limit < len(ranked) else None
        return {"items": [_summary(r) for r in page], "total": len(ranked), "next_cursor": nxt}

    # ------------------------------------------------------------------ uploads
    def start_upload(
        self,
        caller: Caller,
        model_id: str,
        *,
        path: str,
        size: int,
        sha256: str,
        part_size: int | None = None,
        part_crc32: list[str] | None = None,
    ) -> dict[str, Any]:
        state, _ = self._model(caller, model_id, "editor")
        path = clean_file_path(path)
        sha256 = clean_sha256(sha256)
        if size < 0:
            raise Invalid("size must be >= 0", field="size")
        if self.check_upload is not None:
            self.check_upload(state.project_id, size)
        ps = self._part_size(size, part_size)
        upload = self.blobs.create_upload(
            expected_size=size, expected_sha256=sha256, part_size=ps, part_crc32=part_crc32
        )
        cmd = m.StartUpload(upload_id=upload.upload_id, path=path, size=size, sha256=sha256, part_size=ps)
        try:
            execute(self.store, m.MODELS, model_id, cmd, caller, retries=3)  # parallel uploads
        except Exception:
            self.blobs.abort_upload(upload.upload_id)
            raise
        count = max(1, math.ceil(size / ps))
        return {
            "upload_id": upload.upload_id,
            "path": path,
            "size": size,
            "sha256": sha256,
            "part_size": ps,
            "part_count": count,
            "parts": self._targets(upload.upload_id, range(1, count + 1)),
        }

    def _part_size(self, size: int, asked: int | None) -> int:
        if asked is not None:
            if asked < self.min_part:
                raise Invalid(f"part_size must be at least {self.min_part} bytes", field="part_size")
            if asked > self.max_part:
                raise Invalid(f"part_size must be at most {self.max_part} bytes", field="part_size")
            if math.ceil(size / asked) > MAX_PARTS:
                raise Invalid(f"at most {MAX_PARTS} parts; use a larger part_size", field="part_size")
            return asked
        ps = max(self.min_part, min(DEFAULT_PART, self.max_part), math.ceil(size / MAX_PARTS))
        if ps > self.max_part:
            raise Invalid("file too large for the part limits", field="size")
        return ps

    def _targets(self, upload_id: str, numbers: range | list[int]) -> list[dict[str, Any]]:
        return [
            {"part_number": t.part_number, "url": t.url, "method": t.method, "headers": t.headers}
            for t in self.blobs.part_targets(upload_id, list(numbers))
        ]

    def _open_upload(self, caller: Caller, model_id: str, upload_id: str, role: str) -> m.PendingUpload:
        state, _ = self._model(caller, model_id, role)
        if upload_id in state.uploads:
            return state.uploads[upload_id]
        if upload_id in state.rejected:
            raise Conflict(f"upload was rejected: {state.rejected[upload_id]}", field="upload_id")
        raise NotFound(f"no open upload {upload_id!r}", field="upload_id")

    def upload_status(self, caller: Caller, model_id: str, upload_id: str) -> dict[str, Any]:
        state, _ = self._model(caller, model_id, "viewer")
        if upload_id in state.rejected:
            return {"upload_id": upload_id, "state": "rejected", "reason": state.rejected[upload_id]}
        up = state.uploads.get(upload_id)
        if up is None:
            if self._upload_added(model_id, upload_id):
                return {"upload_id": upload_id, "state": "completed"}
            raise NotFound(f"no upload {upload_id!r}", field="upload_id")
        parts = self.blobs.list_parts(upload_id)
        count = max(1, math.ceil(up.size / up.part_size))
        return {
            "upload_id": upload_id,
            "state": "open",
            "path": up.path,
            "size": up.size,
            "sha256": up.sha256,
            "part_size": up.part_size,
            "part_count": count,
            "uploaded_parts": sorted(parts),
            "missing_parts": [n for n in range(1, count + 1) if n not in parts],
        }

    def _upload_added(self, model_id: str, upload_id: str) -> bool:
        return any(
            r.type == "model.file_added" and r.data.get("upload_id") == upload_id
            for r in self.store.read(m.MODELS.stream_id(model_id))
        )

    def part_urls(self, caller: Caller, model_id: str, upload_id: str, numbers: list[int]) -> list[dict[str, Any]]:
        up = self._open_upload(caller, model_id, upload_id, "editor")
        count = max(1, math.ceil(up.size / up.part_size))
        bad = [n for n in numbers if n < 1 or n > count]
        if bad:
            raise Invalid(f"part numbers must be within 1..{count}", field="parts")
        return self._targets(upload_id, numbers)

    def list_uploads(self, caller: Caller, model_id: str) -> list[dict[str, Any]]:
        state, _ = self._model(caller, model_id, "viewer")
        return [self.upload_status(caller, model_id, u) for u in state.uploads]

    def complete_upload(self, caller: Caller, model_id: str, upload_id: str) -> dict[str, Any]:
        """Join the parts (fast). Verification of size + sha256 and the FileAdded event happen in
        ``verify_upload``, run by the S3 ObjectCreated trigger on AWS (the answer here is then
        'verifying'; poll the upload) and in-process locally via ``on_assembled``."""
        self._open_upload(caller, model_id, upload_id, "editor")
        self.blobs.join_parts(upload_id)
        if self.on_assembled is None:
            return {"upload_id": upload_id, "state": "verifying"}
        result = self.on_assembled(upload_id) or {}
        if result.get("state") == "rejected":
            raise Invalid(result.get("reason", "upload rejected"), field=result.get("field") or "sha256")
        return result

    def verify_upload(self, upload_id: str) -> dict[str, Any]:
        """The trigger's work: verify the joined upload and record the file, or record the
        rejection (nothing becomes visible under sha256/). Idempotent for redelivered events."""
        row = self.views.get("uploads", upload_id)
        if row is None:  # the projector has not seen the upload yet: let the trigger retry
            raise NotFound(f"upload {upload_id!r} not (yet) known", field="upload_id")
        model_id = row["model_id"]
        state, _ = load(self.store, m.MODELS, model_id)
        if upload_id in state.rejected:
            return {"upload_id": upload_id, "state": "rejected", "reason": state.rejected[upload_id]}
        if upload_id not in state.uploads:
            return {"upload_id": upload_id, "state": "completed" if self._upload_added(model_id, upload_id) else "gone"}
        try:
            key = self.blobs.complete_upload(upload_id)
        except Invalid as err:
            if err.field in ("sha256", "size"):  # the bytes are wrong: the upload is spent
                execute(
                    self.store,
                    m.MODELS,
                    model_id,
                    m.RejectUpload(upload_id=upload_id, reason=err.message, field=err.field),
                    SYSTEM,
                    retries=3,
                )
                self.blobs.abort_upload(upload_id)  # S3 already discarded it; locally free the parts
                return {"upload_id": upload_id, "state": "rejected", "reason": err.message, "field": err.field}
            raise  # a part-layout problem leaves the upload open: the client can fix and retry
        return self.finalize_upload(model_id, upload_id, key)

    def finalize_upload(self, model_id: str, upload_id: str, blob_key: str, caller: Caller = SYSTEM) -> dict[str, Any]:
        """Record a verified blob as the model's file (idempotent for a redelivered trigger)."""
        state, _ = load(self.store, m.MODELS, model_id)
        if upload_id not in state.uploads:
            if self._upload_added(model_id, upload_id):
                if state.kind == "dataset":  # a redelivered trigger finishes a validation cut short
                    self._validate_pending(state)
                return {"upload_id": upload_id, "state": "completed"}
            raise NotFound(f"no open upload {upload_id!r}", field="upload_id")
        up = state.uploads[upload_id]
        size = self.blobs.size(blob_key)
        sha = blob_key.removeprefix("sha256/")
        execute(
            self.store,
            m.MODELS,
            model_id,
            m.AddFile(upload_id=upload_id, blob=blob_key, size=size, sha256=sha),
            caller,
            retries=3,
        )
        done: dict[str, Any] = {"upload_id": upload_id, "state": "completed", "path": up.path, "size": size,
                                "sha256": sha}  # fmt: skip
        if state.kind == "dataset" and is_data_file(up.path):
            done["validation"] = self.validate_file(model_id, up.path)
        return done

    # ------------------------------------------------------------------ datasets
    def validate_file(self, model_id: str, path: str) -> dict[str, Any]:
        """Read a dataset file's blob as a stream and record its schema, labels and counts, or
        why it is invalid (``FileValidated``). Idempotent per file content. Runs where the upload
        is verified (the S3 trigger on AWS, in-process locally): standard library only, memory
        bounded by the label set, time linear in the file."""
        state, _ = load(self.store, m.MODELS, model_id)
        f = state.files.get(path)
        if f is None:
            raise NotFound(f"no file {path!r}", field="path")
        done = state.validations.get(path)
        if done is not None and done.sha256 == f.sha256:
            return done.to_dict()
        try:
            report = file_report(path, self.blobs.open_range(f.blob))
            cmd = m.RecordValidation(path=path, sha256=f.sha256, valid=True, report=report)
        except DataError as e:
            cmd = m.RecordValidation(path=path, sha256=f.sha256, valid=False, reason=str(e), field=e.field)
        execute(self.store, m.MODELS, model_id, cmd, SYSTEM, retries=3)
        return {"valid": cmd.valid, "report": cmd.report, "reason": cmd.reason, "field": cmd.field}

    def _validate_pending(self, state: m.Model) -> None:
        for path, f in sorted(state.files.items()):
            v = state.validations.get(path)
            if is_data_file(path) and (v is None or v.sha256 != f.sha256):
                self.validate_file(state.model_id, path)

    def _dataset(self, caller: Caller, dataset_id: str, role: str) -> tuple[m.Model, int]:
        """As ``_model``, but an unknown id is reported as a missing dataset (field dataset_id)."""
        try:
            return self._model(caller, dataset_id, role)
        except NotFound:
            raise NotFound(f"no dataset {dataset_id!r}", field="dataset_id") from None

    def get_dataset(self, caller: Caller, dataset_id: str) -> dict[str, Any]:
        state, version = self._dataset(caller, dataset_id, "viewer")
        if state.kind != "dataset":
            raise NotFound(f"no dataset {dataset_id!r} ({dataset_id} is a model)", field="dataset_id")
        return model_doc(state, version)

    def revalidate_dataset(self, caller: Caller, dataset_id: str) -> dict[str, Any]:
        """Validate data files that have no record for their current bytes (e.g. files added
        by a path that skipped validation); returns the dataset."""
        state, _ = self._dataset(caller, dataset_id, "editor")
        if state.kind != "dataset":
            raise NotFound(f"no dataset {dataset_id!r}", field="dataset_id")
        self._validate_pending(state)
        return self.get_dataset(caller, dataset_id)

    def abort_upload(self, caller: Caller, model_id: str, upload_id: str) -> dict[str, Any]:
        self._open_upload(caller, model_id, upload_id, "editor")
        execute(self.store, m.MODELS, model_id, m.AbortUpload(upload_id=upload_id), caller, retries=3)
        self.blobs.abort_upload(upload_id)  # after the event: a failed append leaves the upload usable
        return {"upload_id": upload_id, "state": "aborted"}

    # ------------------------------------------------------------------ download + gc
    def download(self, caller: Caller, model_id: str, path: str) -> dict[str, Any]:
        state, _ = self._model(caller, model_id, "viewer")
        path = clean_file_path(path)
        f = state.files.get(path)
        if f is None:
            raise NotFound(f"no file {path!r} in this model", field="path")
        name = path.rsplit("/", 1)[-1]
        return {"path": path, "size": f.size, "sha256": f.sha256, "url": self.blobs.download_url(f.blob, filename=name)}

    def collect_garbage(self, *, grace_s: float = 3600.0, now: datetime | None = None) -> list[str]:
        """Delete blobs that no live model has referenced for ``grace_s`` seconds. The grace period
        covers an upload of the same bytes that completed (deduplicated onto the existing blob)
        just before its FileAdded reached the view."""
        now = now or datetime.now(UTC)
        reclaimed = []
        for key, row in self.views.scan("blob_refs"):
            if row.get("refs") or not row.get("released_at"):
                continue
            if (now - datetime.fromisoformat(row["released_at"])).total_seconds() < grace_s:
                continue
            if self.blobs.exists(key):
                self.blobs.delete(key)
                reclaimed.append(key)
        return reclaimed


def _summary(row: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in row.items() if k not in ("terms", "files", "validations", "uploads")}
    out.setdefault("kind", "model")
    if out["kind"] == "dataset":
        checks = row.get("validations", {})
        records = {path: checks.get(path) for path in row.get("files", {})}
        out["validation"] = {k: v for k, v in dataset_summary(records).items() if k in ("state", "rows", "labels")}
    out["file_count"] = len(row.get("files", {}))
    out["total_size"] = sum(f if isinstance(f, int) else f["size"] for f in row.get("files", {}).values())
    if "_score" in row:
        out["score"] = row["_score"]
    return out


_SORTS = {"name": lambda r: r["name"], "created": lambda r: r["created"]["at"], "updated": lambda r: r["updated"]["at"]}


def _sorted(rows: list[dict[str, Any]], sort: str) -> list[dict[str, Any]]:
    field = sort.lstrip("-")
    if field not in _SORTS:
        raise Invalid(f"sort must be one of {', '.join(_SORTS)} (prefix - for descending)", field="sort")
    return sorted(rows, key=_SORTS[field], reverse=sort.startswith("-"))
