from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from domain.errors import Invalid
from functions.api import schemas
from functions.api.deps import caller, container
from functions.api.guard import check_depth
from functions.api.read_models import ConfigFile
from functions.api.schemas import MAX_INT

router = APIGatewayRouter()
MEDIA = {"json": "application/json", "yaml": "application/yaml"}


def _time(value: str | None, field: str) -> datetime | None:
    if value is None:
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise Invalid("must be an ISO 8601 time", field=field) from None
    if when.tzinfo is None:
        raise Invalid("must include a time zone (e.g. Z or +08:00)", field=field)
    return when


@router.get("/config-templates", tags=["configs"], summary="Built-in presets: five families x tiny/small/base")
def templates() -> dict[str, Any]:
    caller(router)  # signed in, as every route but /health (on AWS the authorizer asks anyway)
    return {"items": container().configs.templates()}


@router.get("/config-templates/<name>", tags=["configs"], summary="One preset with its values and source")
def template(name: str) -> dict[str, Any]:
    caller(router)
    return container().configs.template(name)


@router.post(
    "/projects/<project_id>/configs",
    tags=["configs"],
    summary="Create a config from a template or a file",
    status_code=201,
)
def create_config(project_id: str, body: schemas.CreateConfig) -> tuple[dict[str, Any], int]:
    svc, who = container().configs, caller(router)
    if (body.template is None) == (body.file is None):
        raise Invalid("give exactly one of template or file", field="template")
    if body.format is not None and body.format not in MEDIA:
        raise Invalid(f"unknown format {body.format!r}; expected json or yaml", field="format")
    if body.template is not None:
        doc = svc.create_from_template(
            who, project_id, body.template, name=body.name, description=body.description or "",
            overrides=body.overrides,
        )  # fmt: skip
    else:
        check_depth(body.file or "", "file")  # YAML/JSON parsers recurse: refuse before they do
        if body.overrides:
            raise Invalid("overrides apply to templates; edit the file instead", field="overrides")
        doc = svc.create_from_file(
            who,
            project_id,
            body.file or "",
            filename=body.filename,
            name=body.name,
            description=body.description,
        )
    return doc, 201


@router.post(
    "/projects/<project_id>/configs/import",
    tags=["configs"],
    summary="Import a portable config file",
    status_code=201,
)
def import_config(project_id: str, body: schemas.ImportConfig) -> tuple[dict[str, Any], int]:
    check_depth(body.file, "file")
    return container().configs.import_(caller(router), project_id, body.file, name=body.name), 201


@router.get("/configs/<config_id>", tags=["configs"], summary="A config; as_of / version = as it was then")
def get_config(
    config_id: str,
    as_of: Annotated[str | None, Query(description="ISO 8601 time")] = None,
    version: Annotated[int | None, Query(ge=1, le=MAX_INT)] = None,
) -> dict[str, Any]:
    return container().configs.get(caller(router), config_id, as_of=_time(as_of, "as_of"), version=version)


@router.patch("/configs/<config_id>", tags=["configs"], summary="Edit values, name or description")
def edit_config(config_id: str, body: schemas.EditConfig) -> dict[str, Any]:
    return container().configs.edit(caller(router), config_id, **body.model_dump(exclude_none=True))


@router.post("/configs/batch-edit", tags=["configs"], summary="Set keys on several configs: all or nothing")
def batch_edit(body: schemas.BatchEdit) -> dict[str, Any]:
    return container().configs.batch_edit(caller(router), body.config_ids, set=body.set, unset=body.unset)


@router.delete("/configs/<config_id>", tags=["configs"])
def delete_config(
    config_id: str, expected_version: Annotated[int | None, Query(ge=0, le=MAX_INT)] = None
) -> dict[str, Any]:
    return container().configs.delete(caller(router), config_id, expected_version=expected_version)


@router.get(
    "/configs/<config_id>/export",
    tags=["configs"],
    summary="The portable file (round-trips exactly)",
    responses={
        200: {
            "description": "The tlm.config document, as JSON or YAML text",
            "content": {
                "application/json": {"model": ConfigFile},
                "application/yaml": {"schema": {"type": "string"}},
            },
        }
    },
)
def export_config(
    config_id: str,
    format: Annotated[str, Query(description="json | yaml")] = "json",  # noqa: A002 - the API's word
    version: Annotated[int | None, Query(ge=1, le=MAX_INT)] = None,
) -> Response[str]:
    if format not in MEDIA:
        raise Invalid(f"unknown export format {format!r}; expected json or yaml", field="format")
    text = container().configs.export(caller(router), config_id, fmt=format, version=version)
    return Response(
        status_code=200,
        content_type=f"{MEDIA[format]}; charset=utf-8",
        body=text,
        headers={"Content-Disposition": f'attachment; filename="{config_id}.{format}"'},
    )


@router.get("/configs/<config_id>/history", tags=["configs"], summary="Every change: who, when, which command")
def history(config_id: str) -> dict[str, Any]:
    return {"items": container().configs.history(caller(router), config_id)}


@router.get("/configs/<config_id>/diff", tags=["configs"], summary="Leaf-level difference between two versions")
def diff(
    config_id: str,
    from_version: Annotated[int, Query(alias="from", ge=1, le=MAX_INT)],
    to_version: Annotated[int, Query(alias="to", ge=1, le=MAX_INT)],
) -> dict[str, Any]:
    return container().configs.diff(caller(router), config_id, from_version, to_version)


@router.get("/configs/<config_id>/blame", tags=["configs"], summary="Who set each value, when, in which command")
def blame(
    config_id: str,
    path: Annotated[str | None, Query(description="a dotted field or subtree")] = None,
    version: Annotated[int | None, Query(ge=1, le=MAX_INT)] = None,
) -> dict[str, Any]:
    return {"items": container().configs.blame(caller(router), config_id, version=version, path=path)}


@router.post(
    "/configs/<config_id>/derive",
    tags=["arch"],
    summary="A child config: an architecture edit of this one",
    status_code=201,
)
def derive(config_id: str, body: schemas.DeriveConfig) -> tuple[dict[str, Any], int]:
    return container().configs.derive(caller(router), config_id, **body.model_dump(exclude_none=True)), 201


@router.post(
    "/configs/<config_id>/arch-test",
    tags=["arch"],
    summary="Test a derived config against its parent (a job)",
    status_code=202,
)
def arch_test(config_id: str, body: schemas.ArchTest) -> tuple[dict[str, Any], int]:
    return container().arch_tests.start(caller(router), config_id, **body.model_dump(exclude_none=True)), 202


@router.get("/projects/<project_id>/configs", tags=["configs"], summary="A project's configs, newest change first")
def list_configs(project_id: str, family: Annotated[str | None, Query()] = None) -> dict[str, Any]:
    return {"items": container().config_list.list(caller(router), project_id, family=family)}
