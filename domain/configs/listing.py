"""The configs list (pure fold): one row per live config with what a list shows (name, family,
origin, lineage, version, who created / last changed it). Deleting a config removes its row.
``runtime.views.configs`` projects it; ``GET /projects/{id}/configs`` and ``tlm configs list``
read it."""

from __future__ import annotations

from typing import Any

from domain.records import RecordedEvent

Row = dict[str, Any]


def _stamp(event: RecordedEvent) -> dict[str, str]:
    return {"at": event.recorded_at.isoformat(), "by": event.metadata.actor}


def config_row(row: Row | None, event: RecordedEvent) -> Row | None:
    d = event.data
    if event.type == "config.created":
        values = d.get("values") or {}
        derived = d.get("derived_from") or {}
        return {
            "config_id": d["config_id"],
            "project_id": d["project_id"],
            "name": d["name"],
            "description": d.get("description", ""),
            "family": values.get("family"),
            "origin": d.get("origin"),
            "origin_ref": d.get("origin_ref"),
            "derived_from": derived.get("config_id"),
            "version": event.version,
            "created": _stamp(event),
            "updated": _stamp(event),
        }
    if row is None:
        return None
    if event.type == "config.deleted":
        return None
    if event.type == "config.edited":
        name, description = d.get("name"), d.get("description")
        family = next((c.get("new") for c in d.get("changes") or [] if c.get("path") == "family"), row["family"])
        return {
            **row,
            "family": family,
            "name": name["new"] if name else row["name"],
            "description": description["new"] if description else row["description"],
            "version": event.version,
            "updated": _stamp(event),
        }
    return {**row, "version": event.version}
