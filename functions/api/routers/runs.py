"""Workflow runs (compile, train, ...): list, show with per-step status and timing, cancel."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from functions.api import schemas
from functions.api.deps import caller, container
from functions.api.schemas import RunStatus

router = APIGatewayRouter()


@router.get("/runs", tags=["runs"], summary="Workflow runs in the caller's projects, newest first")
def list_runs(
    project_id: Annotated[str | None, Query()] = None,
    workflow: Annotated[str | None, Query()] = None,
    status: Annotated[RunStatus | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    items = container().project_runs.list(
        caller(router), project_id=project_id, workflow=workflow, status=status, limit=limit
    )
    return {"items": items}


@router.get("/runs/<run_id>", tags=["runs"], summary="A run with per-step status and timing")
def get_run(run_id: str) -> dict[str, Any]:
    return container().project_runs.show(caller(router), run_id)


@router.post("/runs/<run_id>/cancel", tags=["runs"], summary="Cancel a run (stops its job)")
def cancel_run(run_id: str, body: schemas.CancelRequest | None = None) -> dict[str, Any]:
    return container().project_runs.cancel(caller(router), run_id, reason=body.reason if body else "")
