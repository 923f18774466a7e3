"""Compile management: start a named recipe on a model, follow, cancel, download artifacts."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from functions.api import schemas
from functions.api.deps import caller, container
from functions.api.schemas import MAX_INT

router = APIGatewayRouter()


@router.post(
    "/models/<model_id>/compiles", tags=["compiles"], summary="Compile a model with a named recipe", status_code=201
)
def start_compile(model_id: str, body: schemas.StartCompile) -> tuple[dict[str, Any], int]:
    return container().compiles.start(caller(router), model_id, body.target, body.params), 201


@router.get("/models/<model_id>/compiles", tags=["compiles"], summary="The model's compiles, newest first")
def list_compiles(model_id: str) -> dict[str, Any]:
    return {"items": container().compiles.list_for_model(caller(router), model_id)}


@router.get("/compiles/<compile_id>", tags=["compiles"], summary="Status, steps, verification, artifacts")
def get_compile(compile_id: str) -> dict[str, Any]:
    return container().compiles.show(caller(router), compile_id)


@router.get(
    "/compiles/<compile_id>/logs",
    tags=["compiles"],
    summary="Log lines of its jobs from index start; next = where to continue",
)
def compile_logs(compile_id: str, start: Annotated[int, Query(ge=0, le=MAX_INT)] = 0) -> dict[str, Any]:
    return container().compiles.logs(caller(router), compile_id, start=start)


@router.post("/compiles/<compile_id>/cancel", tags=["compiles"], summary="Cancel: stops its job, keeps its log")
def cancel_compile(compile_id: str, body: schemas.CancelRequest | None = None) -> dict[str, Any]:
    return container().compiles.cancel(caller(router), compile_id, reason=body.reason if body else "")


@router.get("/compiles/<compile_id>/download", tags=["compiles"], summary="A download URL and checksum of one artifact")
def download_artifact(
    compile_id: str, path: Annotated[str, Query(description="model.onnx | compile_report.json | model.tar.gz")]
) -> dict[str, Any]:
    return container().compiles.download(caller(router), compile_id, path)
