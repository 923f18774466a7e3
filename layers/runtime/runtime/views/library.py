"""Read views of the model library, as projections (pure folds of recorded events).

- ``projects``: one row per project, with members and roles.
- ``memberships``: ``<user_id>/<project_id>`` -> role, to list a user's projects.
- ``models``: one row per live model or dataset (``kind``; None = tombstone once deleted), with
  its files, a dataset's per-file validation records, and its search terms per field
  (computed by the analyzer; deterministic, so a rebuild gives the same rows).
- ``blob_refs``: blob key -> {model_id: [paths]}; a row with no refs means the blob may be
  reclaimed (see LibraryService.collect_garbage).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from domain.projection import Row
from domain.records import RecordedEvent
from runtime import projections
from runtime.search.analyzer import index_terms


def _stamp(event: RecordedEvent) -> dict[str, Any]:
    return {"at": event.recorded_at.isoformat(), "by": event.metadata.actor}


class ProjectsView:
    view = "projects"

    def keys(self, event: RecordedEvent) -> Sequence[str]:
        return [event.stream_id.removeprefix("project-")] if event.type.startswith("project.") else []

    def apply(self, key: str, row: Row | None, event: RecordedEvent) -> Row | None:
        d = event.data
        if event.type == "project.created":
            return {
                "project_id": d["project_id"],
                "name": d["name"],
                "description": d.get("description", ""),
                "members": {d["owner"]: "owner"},
                "created": _stamp(event),
            }
        if row is None:
            return None
        if event.type == "project.member_set":
            return {**row, "members": {**row["members"], d["user_id"]: d["role"]}}
        if event.type == "project.member_removed":
            return {**row, "members": {u: r for u, r in row["members"].items() if u != d["user_id"]}}
        return row


class MembershipsView:
    view = "memberships"

    def keys(self, event: RecordedEvent) -> Sequence[str]:
        pid = event.stream_id.removeprefix("project-")
        d = event.data
        if event.type == "project.created":
            return [f"{d['owner']}/{pid}"]
        if event.type in ("project.member_set", "project.member_removed"):
            return [f"{d['user_id']}/{pid}"]
        return []

    def apply(self, key: str, row: Row | None, event: RecordedEvent) -> Row | None:
        user_id, project_id = key.split("/", 1)
        if event.type == "project.created":
            return {"user_id": user_id, "project_id": project_id, "role": "owner"}
        if event.type == "project.member_set":
            return {"user_id": user_id, "project_id": project_id, "role": event.data["role"]}
        return None  # member_removed


def search_terms(row: Row) -> dict[str, list[str]]:
    return {
        "name": sorted(index_terms(row["name"])),
        "tags": sorted(set().union(*(index_terms(t) for t in row["tags"])) if row["tags"] else set()),
        "text": sorted(index_terms(" ".join([row["description"], row["family"], row.get("source", "")]))),
    }


class ModelsView:
    view = "models"

    def keys(self, event: RecordedEvent) -> Sequence[str]:
        return [event.stream_id.removeprefix("model-")] if event.type.startswith("model.") else []

    def apply(self, key: str, row: Row | None, event: RecordedEvent) -> Row | None:
        d = event.data
        t = event.type
        if t == "model.registered":
            new: Row = {
                "model_id": d["model_id"],
                "project_id": d["project_id"],
                "name": d["name"],
                "family": d["family"],
                "description": d.get("description", ""),
                "tags": d.get("tags", []),
                "license": d.get("license", ""),
                "source": d.get("source", ""),
                "kind": d.get("kind", "model"),
                "files": {},
                "created": _stamp(event),
                "updated": _stamp(event),
                "version": event.version,
            }
            return {**new, "terms": search_terms(new)}
        if row is None or t == "model.deleted":
            return None
        base = {**row, "updated": _stamp(event), "version": event.version}
        if t == "model.updated":
            changes = {k: v for k, v in d.items() if v is not None}
            merged = {**base, **changes}
            return {**merged, "terms": search_terms(merged)}
        checks = {p: v for p, v in row.get("validations", {}).items() if p != d.get("path")}
        if t == "model.upload_started":  # open uploads' declared sizes count against the storage quota
            return {**base, "uploads": {**row.get("uploads", {}), d["upload_id"]: d["size"]}}
        if t in ("model.upload_aborted", "model.upload_rejected"):
            return {**base, "uploads": {u: n for u, n in row.get("uploads", {}).items() if u != d["upload_id"]}}
        if t == "model.file_added":  # path -> size only: rows must stay small (DynamoDB items <= 400 KB);
            # a model's full file list (sha256, blob) is read from its stream
            uploads = {u: n for u, n in row.get("uploads", {}).items() if u != d.get("upload_id")}
            files = {**row["files"], d["path"]: d["size"]}
            return {**base, "files": files, "validations": checks, "uploads": uploads}
        if t == "model.file_removed":
            files = {p: f for p, f in row["files"].items() if p != d["path"]}
            return {**base, "files": files, "validations": checks}
        if t == "model.file_validated":  # datasets: per file validity, labels and counts
            rec = {k: d.get(k) for k in ("sha256", "valid", "report", "reason", "field")}
            return {**base, "validations": {**checks, d["path"]: rec}}
        return base


class BlobRefsView:
    view = "blob_refs"

    def keys(self, event: RecordedEvent) -> Sequence[str]:
        if event.type in ("model.file_added", "model.file_removed"):
            return [event.data["blob"]]
        if event.type == "model.deleted":
            return list(event.data["blobs"])
        return []

    def apply(self, key: str, row: Row | None, event: RecordedEvent) -> Row | None:
        model_id = event.stream_id.removeprefix("model-")
        refs: dict[str, list[str]] = {m: list(p) for m, p in (row or {}).get("refs", {}).items()}
        if event.type == "model.file_added":
            paths = refs.setdefault(model_id, [])
            if event.data["path"] not in paths:
                paths.append(event.data["path"])
        elif event.type == "model.file_removed":
            refs[model_id] = [p for p in refs.get(model_id, []) if p != event.data["path"]]
            if not refs[model_id]:
                del refs[model_id]
        elif event.type == "model.deleted":
            refs.pop(model_id, None)
        row = {"blob": key, "refs": refs}
        if not refs:  # when the last reference went (garbage collection waits a grace period)
            row["released_at"] = event.recorded_at.isoformat()
        return row


class UploadsView:
    """upload id -> model id and path: the S3 trigger only sees the staging key."""

    view = "uploads"

    def keys(self, event: RecordedEvent) -> Sequence[str]:
        return [event.data["upload_id"]] if event.type == "model.upload_started" else []

    def apply(self, key: str, row: Row | None, event: RecordedEvent) -> Row | None:
        return {"upload_id": key, "model_id": event.stream_id.removeprefix("model-"), "path": event.data["path"]}


LIBRARY_PROJECTIONS = tuple(
    projections.register(p) for p in (ProjectsView(), MembershipsView(), ModelsView(), BlobRefsView(), UploadsView())
)
