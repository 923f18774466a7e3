"""A project's limits (model size, training memory, storage quota, job slots) and its use."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler.router import APIGatewayRouter
from pydantic import BaseModel, ConfigDict

from functions.api.deps import caller, container

router = APIGatewayRouter()


class SetLimits(BaseModel):
    model_config = ConfigDict(extra="forbid")
    limits: dict[str, Any]  # names and integers checked by domain.limits.clean_overrides


@router.get("/projects/<project_id>/limits", tags=["projects"], summary="The project's limits and storage used")
def get_limits(project_id: str) -> dict[str, Any]:
    return container().limits.get(caller(router), project_id)


@router.put("/projects/<project_id>/limits", tags=["projects"], summary="Change some limits (owner only)")
def set_limits(project_id: str, body: SetLimits) -> dict[str, Any]:
    return container().limits.set(caller(router), project_id, body.limits)
