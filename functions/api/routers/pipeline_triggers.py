"""Pipeline triggers (issue 15 item 4): on a schedule, or on a new dataset or model version."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from functions.api import schemas_pipelines as s
from functions.api.deps import caller, container

router = APIGatewayRouter()


@router.post("/pipelines/<pipeline_id>/triggers", tags=["pipelines"], summary="Add a trigger", status_code=201)
def create(pipeline_id: str, body: s.CreateTrigger) -> tuple[dict[str, Any], int]:
    watch = body.watch.model_dump() if body.watch else None
    doc = container().pipeline_triggers.create(caller(router), pipeline_id, kind=body.kind, cron=body.cron,
                                               watch=watch, version=body.version)  # fmt: skip
    return doc, 201


@router.get("/pipelines/<pipeline_id>/triggers", tags=["pipelines"], summary="A pipeline's triggers")
def list_triggers(pipeline_id: str) -> dict[str, Any]:
    return {"items": container().pipeline_triggers.triggers(caller(router), pipeline_id)}


@router.delete("/pipelines/<pipeline_id>/triggers/<trigger_id>", tags=["pipelines"], summary="Remove a trigger")
def remove(pipeline_id: str, trigger_id: str) -> dict[str, Any]:
    return container().pipeline_triggers.remove(caller(router), pipeline_id, trigger_id)  # type: ignore[no-any-return]
