from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from domain.errors import Invalid
from functions.api import schemas
from functions.api.deps import caller, container
from functions.api.schemas import MAX_INT, Family, Kind, Sort, TagsMode
from runtime.search.query import SearchQuery

router = APIGatewayRouter()


@router.post("/projects/<project_id>/models", tags=["models"], summary="Register a model in a project", status_code=201)
def register_model(project_id: str, body: schemas.RegisterModel) -> tuple[dict[str, Any], int]:
    return container().library.register_model(caller(router), project_id, **body.model_dump()), 201


@router.get("/models", tags=["models"], summary="List or search models (paged)")
def list_models(
    q: Annotated[str, Query(description="words (AND); OR between alternatives; pinyin and initials match")] = "",
    project_id: Annotated[str | None, Query()] = None,
    family: Annotated[list[Family] | None, Query()] = None,
    tag: Annotated[list[str] | None, Query()] = None,
    tags_mode: Annotated[TagsMode, Query()] = "all",
    sort: Annotated[Sort, Query(description="'-' for descending")] = "-updated",
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[int, Query(ge=0, le=MAX_INT)] = 0,
    kind: Annotated[Kind, Query()] = "model",
) -> dict[str, Any]:
    query = SearchQuery(q=q, families=tuple(family or ()), tags=tuple(tag or ()), tags_mode=tags_mode)
    page = container().library.list_models(
        caller(router), project_id=project_id, sort=sort, limit=limit, cursor=cursor, query=query, kind=kind
    )
    return container().leaderboard.annotate_page(page)  # metrics + lineage per model (h6)


@router.get("/models/<model_id>", tags=["models"], summary="A model with its files; as_of = as it was then")
def get_model(model_id: str, as_of: Annotated[str | None, Query(description="ISO 8601 time")] = None) -> dict[str, Any]:
    when = None
    if as_of is not None:
        try:
            when = datetime.fromisoformat(as_of)
        except ValueError:
            raise Invalid("must be an ISO 8601 time", field="as_of") from None
        if when.tzinfo is None:
            raise Invalid("must include a time zone (e.g. Z or +08:00)", field="as_of")
    return container().leaderboard.annotate(container().library.get_model(caller(router), model_id, as_of=when))


@router.patch("/models/<model_id>", tags=["models"])
def update_model(model_id: str, body: schemas.UpdateModel) -> dict[str, Any]:
    return container().library.update_model(caller(router), model_id, **body.model_dump(exclude_none=True))


@router.delete("/models/<model_id>", tags=["models"], summary="Delete (tombstone); blobs reclaimed when unreferenced")
def delete_model(model_id: str) -> dict[str, Any]:
    return container().library.delete_model(caller(router), model_id)


@router.get("/models/<model_id>/history", tags=["models"], summary="Every change: who, when, what")
def history(model_id: str) -> dict[str, Any]:
    return {"items": container().library.history(caller(router), model_id)}


@router.get("/models/<model_id>/download", tags=["models"], summary="A download URL (Range-resumable) and checksum")
def download(model_id: str, path: Annotated[str, Query(min_length=1)]) -> dict[str, Any]:
    return container().library.download(caller(router), model_id, path)
