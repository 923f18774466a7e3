"""Workflow runs as the API shows them, authorized by the run's project: one service for both
backends.

Which runs exist, their project, owner, status and times come from the ``runs`` view
(``runtime.workflows.runs_view``, projected from the run streams on both backends); a run's
per-step details from ``details`` (``show_run`` / ``cancel_run``: the run stream locally, the
Step Functions history on AWS). Listing never reads the log, nor the whole view: the ``runs`` view
is partitioned by project (``runtime.views.layout``), so one project's runs are one Query of its
partition on DynamoDB (``runs@<project>``), and a list without a project reads the partitions of
the caller's projects (from the ``memberships`` view) only.

Every workflow TLM starts for a user carries ``project_id`` in its run input; a run is visible
to the members of that project (viewer reads, editor cancels). A run without a project (a system
run) is visible to nobody through the API.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any, Protocol

from domain.errors import Forbidden, NotFound
from domain.projection import Row
from runtime.ports import ViewStore
from runtime.services.access import Access
from runtime.services.commands import Caller

VIEW = "runs"
STATUSES = ("running", "cancelling", "succeeded", "failed", "cancelled")


class RunDetails(Protocol):
    def show_run(self, run_id: str) -> dict[str, Any]: ...

    def cancel_run(self, run_id: str, *, reason: str = "") -> dict[str, Any]: ...


def _duration(row: Row) -> float | None:
    if not (row.get("started_at") and row.get("ended_at")):
        return None
    delta = datetime.fromisoformat(row["ended_at"]) - datetime.fromisoformat(row["started_at"])
    return round(delta.total_seconds(), 3)


def summary(row: Row) -> dict[str, Any]:
    """A listed run: the view row in the shape ``show`` has, without steps and output."""
    return {
        "run_id": row["run_id"],
        "workflow": row["workflow"],
        "status": row["status"],
        "started_at": row["started_at"],
        "ended_at": row["ended_at"],
        "duration_s": _duration(row),
        "current_step": row.get("current_step"),
        "error": row.get("error"),
        "cause": row.get("cause"),
        "project_id": row["project_id"],
        "owner": row.get("owner"),
    }


class RunsService:
    def __init__(
        self, views: ViewStore, details: RunDetails, access: Access, catch_up: Callable[[], None] | None = None
    ) -> None:
        self.views = views
        self.details = details
        self.access = access
        self.catch_up = catch_up  # local read-your-writes before a read of the view

    def _row(self, run_id: str) -> Row:
        row = self.views.get(VIEW, run_id)
        if row is None and self.catch_up is not None:
            self.catch_up()
            row = self.views.get(VIEW, run_id)
        if row is None:
            raise NotFound(f"no workflow run {run_id!r}", field="run_id")
        if not row.get("project_id"):
            raise Forbidden("this run belongs to no project", field="run_id")
        return row

    def show(self, caller: Caller, run_id: str) -> dict[str, Any]:
        row = self._row(run_id)
        self.access.require(caller, row["project_id"], "viewer")
        return {**self.details.show_run(run_id), "project_id": row["project_id"], "owner": row.get("owner")}

    def cancel(self, caller: Caller, run_id: str, *, reason: str = "") -> dict[str, Any]:
        row = self._row(run_id)
        self.access.require(caller, row["project_id"], "editor")
        return {**self.details.cancel_run(run_id, reason=reason), "project_id": row["project_id"]}

    def rows(
        self, *, project_id: str | None = None, workflow: str | None = None, status: str | None = None
    ) -> list[Row]:
        """View rows newest first, filtered (no authorization: callers check the project). One
        project's rows are read from its own partition of the view (``runtime.views.layout``)."""
        rows = self.views.scan(VIEW) if project_id is None else self.views.scan_partition(VIEW, project_id)
        found = [
            row
            for _, row in rows
            if (project_id is None or row.get("project_id") == project_id)
            and (workflow is None or row.get("workflow") == workflow)
            and (status is None or row.get("status") == status)
        ]
        found.sort(key=lambda r: (r.get("started_at") or "", r["run_id"]), reverse=True)
        return found

    def list(
        self,
        caller: Caller,
        *,
        project_id: str | None = None,
        workflow: str | None = None,
        status: str | None = None,
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        """Newest first, without per-step details; only runs of projects the caller can read."""
        if project_id is not None:
            self.access.require(caller, project_id, "viewer")
        if self.catch_up is not None:
            self.catch_up()
        if project_id is not None:
            rows = self.rows(project_id=project_id, workflow=workflow, status=status)
        else:  # the caller's projects' partitions only (the memberships view), never the whole view
            memberships = self.views.scan("memberships", prefix=f"{caller.user_id}/")
            projects = sorted({str(r["project_id"]) for _, r in memberships})
            rows = [r for p in projects for r in self.rows(project_id=p, workflow=workflow, status=status)]
            rows.sort(key=lambda r: (r.get("started_at") or "", r["run_id"]), reverse=True)
        out: list[dict[str, Any]] = []
        for row in self._readable(caller, rows):
            out.append(summary(row))
            if len(out) >= limit:
                break
        return out

    def _readable(self, caller: Caller, rows: Sequence[Row]) -> Iterator[Row]:
        allowed: dict[str, bool] = {}
        for row in rows:
            project = row.get("project_id")
            if not project:
                continue
            if project not in allowed:
                try:
                    self.access.require(caller, project, "viewer")
                    allowed[project] = True
                except (Forbidden, NotFound):
                    allowed[project] = False
            if allowed[project]:
                yield row
