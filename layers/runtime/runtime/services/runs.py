"""Workflow runs as the API shows them, authorized by the run's project.

Every workflow TLM starts for a user carries ``project_id`` in its run input; a run is visible
to the members of that project (viewer reads, editor cancels). A run without a project (a system
run) is visible to nobody through the API. Details, per-step status and timing come from
``runtime.workflows.service.WorkflowService``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from domain.errors import Forbidden, NotFound
from domain.workflows import events as ev
from domain.workflows.run import WorkflowRun
from runtime.services.access import Access
from runtime.services.commands import Caller


class RunsService:
    def __init__(self, store: Any, runs: Any) -> None:
        self.store = store
        self.runs = runs  # WorkflowService
        self.access = Access(store)

    def _project(self, run_id: str) -> str:
        first = self.store.read(WorkflowRun.stream_id(run_id), until_version=1)
        if not first:
            raise NotFound(f"no workflow run {run_id!r}", field="run_id")
        project = (first[0].data.get("input") or {}).get("project_id")
        if not project:
            raise Forbidden("this run belongs to no project", field="run_id")
        return str(project)

    def show(self, caller: Caller, run_id: str) -> dict[str, Any]:
        self.access.require(caller, self._project(run_id), "viewer")
        return {**self.runs.show_run(run_id), "project_id": self._project(run_id)}

    def cancel(self, caller: Caller, run_id: str, *, reason: str = "") -> dict[str, Any]:
        project = self._project(run_id)
        self.access.require(caller, project, "editor")
        return {**self.runs.cancel_run(run_id, reason=reason), "project_id": project}

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
        allowed: dict[str, bool] = {}
        out: list[dict[str, Any]] = []
        for project, fetch in self._candidates(workflow=workflow, status=status):
            if project_id is not None and project != project_id:
                continue
            if project not in allowed:
                try:
                    self.access.require(caller, project, "viewer")
                    allowed[project] = True
                except (Forbidden, NotFound):
                    allowed[project] = False
            if not allowed[project] or (run := fetch()) is None:
                continue
            out.append({**run, "project_id": project})
            if len(out) >= limit:
                break
        return out

    def _candidates(
        self, *, workflow: str | None, status: str | None
    ) -> Iterator[tuple[str, Callable[[], dict[str, Any] | None]]]:
        """(project, fetch) per run, newest first; ``fetch`` reads the run summary (None when the
        status filter rejects it) only once the caller may see the project. Local: the log."""
        started: list[tuple[str, str, str]] = []  # (run id, workflow, project)
        position = 0
        while batch := self.store.read_all(after_position=position, limit=1000):
            for e in batch:
                if e.type == ev.RunStarted.event_type:
                    project = (e.data.get("input") or {}).get("project_id")
                    if project:
                        started.append((e.data["run_id"], e.data["workflow"], str(project)))
            position = batch[-1].position or 0

        def fetch(run_id: str) -> dict[str, Any] | None:
            run = self.runs.show_run(run_id)
            if status is not None and run["status"] != status:
                return None
            run.pop("steps")
            run.pop("output", None)
            return dict(run)

        for run_id, wf, project in reversed(started):
            if workflow is None or wf == workflow:
                yield project, (lambda r=run_id: fetch(r))
