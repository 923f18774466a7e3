"""A project as the home of everything: overview counts, the activity feed, members (invite by
user id or e-mail, change a role, transfer ownership) and the archive (export / import, see
``runtime.services.project_archive``).

Counts and the feed read ONE partition of the ``project_activity`` view (one row per stream of
the project, ``runtime.views.project_activity``): never the whole log. Authorization reads the
project's own stream (``Access``): viewers read, owners manage members and archives.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

from domain.errors import Invalid
from domain.library import ownership
from domain.library.projects import SetMember
from runtime.ports import BlobStore, EventStore, ViewStore
from runtime.services.access import Access
from runtime.services.commands import Caller, execute

COUNTED = ("models", "datasets", "configs", "pipelines", "pipeline_runs", "runs", "trainings", "compiles")
_PLURAL = {"model": "models", "dataset": "datasets", "config": "configs", "pipeline": "pipelines", "run": "runs",
           "training": "trainings", "compile": "compiles", "pipeline_run": "pipeline_runs"}  # fmt: skip
NOT_YET = ("studies", "versions", "deployments")  # modules on other branches: counted once merged
MAX_PAGE = 200


def _cursor(entry: dict[str, Any]) -> str:
    key = [entry["at"], entry["stream_id"], entry["version"]]
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[str, str, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        at, stream, version = json.loads(raw)
        if not (isinstance(at, str) and isinstance(stream, str) and isinstance(version, int)):
            raise ValueError
        return at, stream, version
    except (ValueError, TypeError):
        raise Invalid("not a cursor this API returned", field="cursor") from None


class ProjectHome:
    def __init__(
        self,
        store: EventStore,
        views: ViewStore,
        blobs: BlobStore,
        users: Callable[[], Any],
        artifacts: Callable[[], Any],
        catch_up: Callable[[], None] = lambda: None,
    ) -> None:
        self.store = store
        self.views = views
        self.blobs = blobs
        self.access = Access(store)
        self.users = users
        self.artifacts = artifacts
        self.catch_up = catch_up

    def _rows(self, project_id: str) -> list[dict[str, Any]]:
        self.catch_up()
        return [row for _, row in self.views.scan_partition("project_activity", project_id)]

    # ------------------------------------------------------------------ reading
    def overview(self, caller: Caller, project_id: str) -> dict[str, Any]:
        self.access.require(caller, project_id, "viewer")
        rows = self._rows(project_id)
        counts = dict.fromkeys(COUNTED, 0)
        for row in rows:
            plural = _PLURAL.get(row["kind"])
            if plural is not None and not row.get("deleted"):
                counts[plural] += 1
        last = max((e["at"] for r in rows for e in r["events"]), default=None)
        return {
            "project_id": project_id,
            "counts": counts,
            "not_counted_yet": list(NOT_YET),
            "streams": len(rows),
            "last_activity_at": last,
        }

    def activity(
        self,
        caller: Caller,
        project_id: str,
        *,
        kind: str | None = None,
        member: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> dict[str, Any]:
        """Newest first: ``{"items": [{at, actor, type, kind, entity_id, stream_id, version, reason}],
        "next_cursor"}``. ``kind``: a stream kind (model, dataset, config, pipeline, run, training,
        compile, project, limits) or an event type prefix (``pipeline.saved``); ``member``: the actor
        (a user id or e-mail)."""
        self.access.require(caller, project_id, "viewer")
        if not 1 <= limit <= MAX_PAGE:
            raise Invalid(f"limit must be 1..{MAX_PAGE}", field="limit")
        actor = self.users().resolve(member) if member else None
        after = _decode_cursor(cursor) if cursor else None
        items = []
        for row in self._rows(project_id):
            for e in row["events"]:
                if kind and kind != row["kind"] and not e["type"].startswith(kind):
                    continue
                if actor and e["actor"] != actor:
                    continue
                items.append({**e, "kind": row["kind"], "entity_id": row["entity_id"], "stream_id": row["stream_id"]})
        items.sort(key=lambda e: (e["at"], e["stream_id"], e["version"]), reverse=True)
        if after is not None:
            items = [e for e in items if (e["at"], e["stream_id"], e["version"]) < after]
        page = items[:limit]
        more = len(items) > limit
        return {"items": page, "next_cursor": _cursor(page[-1]) if more and page else None}

    # ------------------------------------------------------------------ members
    def invite(self, caller: Caller, project_id: str, member: str, role: str = "viewer") -> dict[str, Any]:
        """Add a member named by user id or e-mail (owners only); 409 if already a member."""
        self.access.require(caller, project_id, "owner")
        user_id = self.users().resolve(member)
        cmd = ownership.Invite(user_id=user_id, role=role)
        state = execute(self.store, ownership.PROJECT_MEMBERS, project_id, cmd, caller).state
        return {"project_id": project_id, "user_id": user_id, "role": role, "members": state.members}

    def set_role(self, caller: Caller, project_id: str, member: str, role: str) -> dict[str, Any]:
        self.access.require(caller, project_id, "owner")
        user_id = self.users().resolve(member)
        cmd = SetMember(user_id=user_id, role=role)
        state = execute(self.store, ownership.PROJECT_MEMBERS, project_id, cmd, caller).state
        return {"project_id": project_id, "user_id": user_id, "role": role, "members": state.members}

    def transfer(self, caller: Caller, project_id: str, member: str, *, keep_role: str = "editor") -> dict[str, Any]:
        """Make ``member`` the owner and the caller ``keep_role``, in one write (owner only)."""
        self.access.require(caller, project_id, "owner")
        to_user = self.users().resolve(member)
        cmd = ownership.TransferOwnership(from_user=caller.user_id, to_user=to_user, keep_role=keep_role)
        state = execute(self.store, ownership.PROJECT_MEMBERS, project_id, cmd, caller).state
        return {"project_id": project_id, "owner": to_user, "members": state.members}

    # ------------------------------------------------------------------ archive
    def export(self, caller: Caller, project_id: str) -> dict[str, Any]:
        """The whole project as an event archive stored as a blob: ``{archive, size, sha256, url,
        streams, events, blobs}`` (download ``url``; owners only)."""
        from runtime.services import project_archive

        self.access.require(caller, project_id, "owner")
        streams = sorted(row["stream_id"] for row in self._rows(project_id))
        return project_archive.export_to_blob(self.store, self.blobs, self.artifacts(), project_id, streams)

    def import_(self, caller: Caller, archive: bytes) -> dict[str, Any]:
        """Import an archive another installation exported (see ``project_archive.import_archive``)."""
        from runtime.services import project_archive

        out = project_archive.import_archive(self.store, self.blobs, self.artifacts(), caller, archive)
        self.catch_up()
        return out
