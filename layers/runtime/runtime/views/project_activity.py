"""``project_activity``: one row per stream that belongs to a project (key = stream id),
partitioned by ``project_id`` (``runtime.views.layout``), so a project's overview counts, its
activity feed and its export read ONE partition, never the whole log.

Row: ``stream_id, project_id, kind`` (model, dataset, config, pipeline, training, compile, run,
project, limits, name), ``entity_id, deleted, last_version`` and ``events``: the newest
``MAX_EVENTS`` entries ``{version, type, actor, at, reason}`` (``at`` = occurred_at, the domain
time, so an imported project shows the same feed). A run's step-by-step events are left out
(its row keeps the run's start and end); the stream itself always has everything.

A stream is assigned to a project by its first event: the ``project_id`` it names (or the run
input's), the project's own stream, or the project part of a name-claim stream id. Streams that
name no project (the shared job queue) have no row. A row is fed by one stream only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from domain.projection import Row
from domain.records import RecordedEvent
from runtime import projections

MAX_EVENTS = 200
KINDS = {
    "model": "model",
    "config": "config",
    "pipeline": "pipeline",
    "training": "training",
    "compile": "compile",
    "workflowrun": "run",
    "project": "project",
    "projectlimits": "limits",
    "modelname": "name",
    "pipelinerun": "pipeline_run",
    "pipelinetriggers": "pipeline_triggers",
}
_RUN_EVENTS = frozenset({"workflowrun.started", "workflowrun.succeeded", "workflowrun.failed", "workflowrun.cancelled"})
_DELETED = frozenset({"model.deleted", "config.deleted", "pipeline.deleted"})


def split_stream(stream_id: str) -> tuple[str, str]:
    prefix, _, entity = stream_id.partition("-")
    return prefix, entity


def project_of(event: RecordedEvent) -> str | None:
    prefix, entity = split_stream(event.stream_id)
    if prefix == "project":
        return entity or None
    if prefix == "modelname":
        return entity.split(".", 1)[0] or None
    d = event.data
    if isinstance(d.get("project_id"), str) and d["project_id"]:
        return str(d["project_id"])
    run_input = d.get("input")
    if prefix == "workflowrun" and isinstance(run_input, dict) and run_input.get("project_id"):
        return str(run_input["project_id"])
    return None


def entry(event: RecordedEvent) -> dict[str, Any]:
    m = event.metadata
    return {
        "version": event.version,
        "type": event.type,
        "actor": m.actor,
        "at": m.occurred_at.isoformat(),
        "reason": m.reason,
    }


class ProjectActivityView:
    view = "project_activity"

    def keys(self, event: RecordedEvent) -> Sequence[str]:
        prefix, _ = split_stream(event.stream_id)
        return [event.stream_id] if prefix in KINDS else []

    def apply(self, key: str, row: Row | None, event: RecordedEvent) -> Row | None:
        prefix, entity = split_stream(event.stream_id)
        if row is None:
            project = project_of(event)
            if project is None:
                return None  # a stream that names no project (or whose start this view never saw)
            kind = KINDS[prefix]
            if prefix == "model" and event.data.get("kind") == "dataset":
                kind = "dataset"
            row = {"stream_id": key, "project_id": project, "kind": kind, "entity_id": entity,
                   "deleted": False, "last_version": 0, "events": []}  # fmt: skip
        row = {**row, "last_version": event.version}
        if event.type in _DELETED:
            row["deleted"] = True
        if prefix != "workflowrun" or event.type in _RUN_EVENTS:
            row["events"] = [*row["events"], entry(event)][-MAX_EVENTS:]
        return row


PROJECT_ACTIVITY = projections.register(ProjectActivityView())
