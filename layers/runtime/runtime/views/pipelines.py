"""``pipelines``: one row per live pipeline (key = pipeline id), partitioned by project
(``runtime.views.layout``): name, description, version, node count and kinds, last change.
Fed by the pipeline's own stream only, so the cross-stream ordering rule holds trivially."""

from __future__ import annotations

from collections.abc import Sequence

from domain.projection import Row
from domain.records import RecordedEvent
from runtime import projections

PREFIX = "pipeline-"


def _summary(definition: dict, event: RecordedEvent) -> Row:  # type: ignore[type-arg]
    nodes = definition.get("nodes", {})
    return {
        "name": definition.get("name", ""),
        "description": definition.get("description", ""),
        "nodes": len(nodes),
        "kinds": sorted({str(n.get("kind")) for n in nodes.values()}),
        "version": event.version,
        "updated": {"at": event.metadata.occurred_at.isoformat(), "by": event.metadata.actor},
    }


class PipelinesView:
    view = "pipelines"

    def keys(self, event: RecordedEvent) -> Sequence[str]:
        if not event.type.startswith("pipeline.") or not event.stream_id.startswith(PREFIX):
            return []
        return [event.stream_id[len(PREFIX) :]]

    def apply(self, key: str, row: Row | None, event: RecordedEvent) -> Row | None:
        d = event.data
        if event.type == "pipeline.created":
            return {"pipeline_id": key, "project_id": d["project_id"], **_summary(d["definition"], event),
                    "created": {"at": event.metadata.occurred_at.isoformat(), "by": event.metadata.actor}}  # fmt: skip
        if row is None or event.type == "pipeline.deleted":
            return None
        if event.type == "pipeline.saved":
            return {**row, **_summary(d["definition"], event)}
        return {**row, "version": event.version}


PIPELINES = projections.register(PipelinesView())
