from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from functions.api.deps import caller, container
from functions.api.schemas import MAX_INT

router = APIGatewayRouter()


@router.get("/jobs/<name>", tags=["jobs"], summary="A job's state, metrics and (when finished) its report")
def get_job(name: str) -> dict[str, Any]:
    return container().arch_tests.status(caller(router), name)


@router.get("/jobs/<name>/logs", tags=["jobs"], summary="Log lines from index start; next = where to continue")
def job_logs(name: str, start: Annotated[int, Query(ge=0, le=MAX_INT)] = 0) -> dict[str, Any]:
    return container().arch_tests.logs(caller(router), name, start=start)


@router.post("/jobs/<name>/cancel", tags=["jobs"], summary="Stop a job (a queued one leaves the queue)")
def cancel_job(name: str) -> dict[str, Any]:
    return container().arch_tests.cancel(caller(router), name)
