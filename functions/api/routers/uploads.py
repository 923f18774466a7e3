from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from functions.api import schemas
from functions.api.deps import caller, container

router = APIGatewayRouter()


@router.post(
    "/models/<model_id>/uploads",
    tags=["uploads"],
    summary="Start a multipart upload; returns part URLs",
    status_code=201,
)
def start_upload(model_id: str, body: schemas.StartUpload) -> tuple[dict[str, Any], int]:
    lib = container().library
    return lib.start_upload(caller(router), model_id, **body.model_dump(exclude_none=True)), 201


@router.get("/models/<model_id>/uploads", tags=["uploads"], summary="Open (resumable) uploads")
def list_uploads(model_id: str) -> dict[str, Any]:
    return {"items": container().library.list_uploads(caller(router), model_id)}


@router.get("/models/<model_id>/uploads/<upload_id>", tags=["uploads"], summary="Uploaded and missing parts")
def upload_status(model_id: str, upload_id: str) -> dict[str, Any]:
    return container().library.upload_status(caller(router), model_id, upload_id)


@router.post("/models/<model_id>/uploads/<upload_id>/part-urls", tags=["uploads"], summary="Fresh part URLs (resume)")
def part_urls(model_id: str, upload_id: str, body: schemas.PartNumbers) -> dict[str, Any]:
    return {"parts": container().library.part_urls(caller(router), model_id, upload_id, body.parts)}


@router.post(
    "/models/<model_id>/uploads/<upload_id>/complete", tags=["uploads"], summary="Verify size + sha256, add the file"
)
def complete(model_id: str, upload_id: str) -> dict[str, Any]:
    return container().library.complete_upload(caller(router), model_id, upload_id)


@router.delete("/models/<model_id>/uploads/<upload_id>", tags=["uploads"])
def abort(model_id: str, upload_id: str) -> dict[str, Any]:
    return container().library.abort_upload(caller(router), model_id, upload_id)
