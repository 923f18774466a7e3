"""Typed read models of the pipeline trigger routes (issue 15 item 4)."""

from __future__ import annotations

from pydantic import BaseModel

from functions.api.read_base import Out


class Trigger(Out):
    trigger_id: str
    pipeline_id: str
    kind: str
    cron: str | None = None
    watch: dict[str, str] | None = None
    version: int | None = None
    created_by: str | None = None
    created_at: str | None = None
    next_fire_at: str | None = None


class Triggers(Out):
    items: list[Trigger]


class TriggerRemoved(Out):
    trigger_id: str
    pipeline_id: str
    removed: bool


RESPONSES: dict[tuple[str, str], type[BaseModel]] = {
    ("POST", "/pipelines/<pipeline_id>/triggers"): Trigger,
    ("GET", "/pipelines/<pipeline_id>/triggers"): Triggers,
    ("DELETE", "/pipelines/<pipeline_id>/triggers/<trigger_id>"): TriggerRemoved,
}
