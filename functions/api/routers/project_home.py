"""A project as the home of everything (issue 15): activity feed, invitations, ownership
transfer, export and import of the whole history. The overview counts are on GET /projects/{id}."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from domain.errors import Invalid
from functions.api import schemas_pipelines as s
from functions.api.deps import caller, container

router = APIGatewayRouter()


@router.get("/projects/<project_id>/activity", tags=["projects"], summary="Who did what, when (newest first)")
def activity(
    project_id: str,
    kind: Annotated[str | None, Query(max_length=64, description="model, dataset, config, pipeline, run, ...")] = None,
    member: Annotated[str | None, Query(max_length=320, description="user id or e-mail")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> dict[str, Any]:
    return container().project_home.activity(  # type: ignore[no-any-return]
        caller(router), project_id, kind=kind, member=member, limit=limit, cursor=cursor
    )


@router.post("/projects/<project_id>/members", tags=["projects"], summary="Invite a member by user id or e-mail",
             status_code=201)  # fmt: skip
def invite(project_id: str, body: s.Invite) -> tuple[dict[str, Any], int]:
    return container().project_home.invite(caller(router), project_id, body.member, body.role), 201


@router.post("/projects/<project_id>/owner", tags=["projects"], summary="Transfer ownership (owner only)")
def transfer(project_id: str, body: s.TransferOwnership) -> dict[str, Any]:
    return container().project_home.transfer(caller(router), project_id, body.member, keep_role=body.keep_role)  # type: ignore[no-any-return]


@router.post("/projects/<project_id>/export", tags=["projects"], summary="The whole history as an event archive")
def export(project_id: str) -> dict[str, Any]:
    return container().project_home.export(caller(router), project_id)  # type: ignore[no-any-return]


@router.post("/projects/import", tags=["projects"], summary="Import an exported project archive", status_code=201)
def import_project(body: s.ImportProject) -> tuple[dict[str, Any], int]:
    who = caller(router)
    try:
        data = base64.b64decode(body.archive_base64, validate=True)
    except (binascii.Error, ValueError):
        raise Invalid("not base64", field="archive_base64") from None
    return container().project_home.import_(who, data), 201
