"""Pipelines (issue 15): definitions as data, versioned; validate, diff, blame, export, compile."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from domain.errors import Invalid
from functions.api import schemas_pipelines as s
from functions.api.deps import caller, container
from functions.api.guard import check_depth
from functions.api.read_models_pipelines import PipelineFile
from functions.api.routers.configs import _time
from functions.api.schemas import MAX_INT

router = APIGatewayRouter()
MEDIA = {"json": "application/json", "yaml": "application/yaml"}
Version = Annotated[int | None, Query(ge=1, le=MAX_INT)]


def _source(body: s.PipelineSource) -> dict[str, Any]:
    if body.file is not None:
        check_depth(body.file, "file")  # YAML/JSON parsers recurse: refuse before they do
        return {"text": body.file, "definition": body.definition}
    return {"definition": body.definition}


@router.get("/pipeline-kinds", tags=["pipelines"], summary="Node kinds: ports, parameter schemas, availability")
def kinds() -> dict[str, Any]:
    caller(router)
    return {"items": container().pipelines.kinds()}


@router.post("/pipelines/validate", tags=["pipelines"], summary="Check a pipeline without saving it")
def validate(body: s.PipelineSource) -> dict[str, Any]:
    caller(router)
    src = _source(body)
    return container().pipelines.validate(src.get("definition"), src.get("text"))  # type: ignore[no-any-return]


@router.post("/projects/<project_id>/pipelines", tags=["pipelines"], summary="Create a pipeline", status_code=201)
def create(project_id: str, body: s.PipelineSource) -> tuple[dict[str, Any], int]:
    return container().pipelines.create(caller(router), project_id, **_source(body)), 201


@router.get("/projects/<project_id>/pipelines", tags=["pipelines"], summary="A project's pipelines")
def list_pipelines(project_id: str) -> dict[str, Any]:
    return {"items": container().pipelines.list_project(caller(router), project_id)}


@router.get("/pipelines/<pipeline_id>", tags=["pipelines"], summary="A pipeline (a version, or as of a time)")
def get(
    pipeline_id: str, version: Version = None, as_of: Annotated[str | None, Query(max_length=64)] = None
) -> dict[str, Any]:
    return container().pipelines.get(caller(router), pipeline_id, version=version, as_of=_time(as_of, "as_of"))  # type: ignore[no-any-return]


@router.put("/pipelines/<pipeline_id>", tags=["pipelines"], summary="Save a new version")
def save(pipeline_id: str, body: s.SavePipeline) -> dict[str, Any]:
    src = _source(body)
    return container().pipelines.save(caller(router), pipeline_id, expected_version=body.expected_version, **src)  # type: ignore[no-any-return]


@router.delete("/pipelines/<pipeline_id>", tags=["pipelines"])
def delete(pipeline_id: str) -> dict[str, Any]:
    return container().pipelines.delete(caller(router), pipeline_id)  # type: ignore[no-any-return]


@router.get("/pipelines/<pipeline_id>/history", tags=["pipelines"], summary="Every version: who, when, what changed")
def history(pipeline_id: str) -> dict[str, Any]:
    return {"items": container().pipelines.history(caller(router), pipeline_id)}


@router.get("/pipelines/<pipeline_id>/diff", tags=["pipelines"], summary="Nodes and fields changed between versions")
def diff(
    pipeline_id: str,
    from_version: Annotated[int, Query(ge=1, le=MAX_INT)],
    to_version: Annotated[int, Query(ge=1, le=MAX_INT)],
) -> dict[str, Any]:
    return container().pipelines.diff(caller(router), pipeline_id, from_version, to_version)  # type: ignore[no-any-return]


@router.get("/pipelines/<pipeline_id>/blame", tags=["pipelines"], summary="Per node: who added it, who changed it last")
def blame(pipeline_id: str, version: Version = None) -> dict[str, Any]:
    return {"items": container().pipelines.blame(caller(router), pipeline_id, version=version)}


@router.get(
    "/pipelines/<pipeline_id>/export",
    tags=["pipelines"],
    summary="The pipeline file (YAML or JSON)",
    responses={200: {"description": "The pipeline file", "content": {
        # YAML parses to the same document as the JSON (schemathesis reads both): an object either way
        "application/yaml": {"model": PipelineFile}, "application/json": {"model": PipelineFile}}}},
)  # fmt: skip
def export(
    pipeline_id: str,
    format: Annotated[str, Query(description="yaml | json")] = "yaml",  # noqa: A002 - the API's word
    version: Version = None,
) -> Response[str]:
    if format not in MEDIA:
        raise Invalid(f"unknown export format {format!r}; expected yaml or json", field="format")
    text = container().pipelines.export(caller(router), pipeline_id, fmt=format, version=version)
    return Response(
        status_code=200,
        content_type=f"{MEDIA[format]}; charset=utf-8",
        body=text,
        headers={"Content-Disposition": f'attachment; filename="{pipeline_id}.{format}"'},
    )


@router.get("/pipelines/<pipeline_id>/workflow", tags=["pipelines"], summary="The compiled workflow and its ASL")
def workflow(pipeline_id: str, version: Version = None) -> dict[str, Any]:
    svc, who = container().pipelines, caller(router)
    wf = svc.workflow(who, pipeline_id, version=version)
    from runtime.workflows import asl

    return {"workflow": wf.model_dump(mode="json"), "asl": asl.render(wf)}


@router.post("/pipelines/<pipeline_id>/runs", tags=["pipelines"], summary="Run a pipeline version (local engine)",
             status_code=201)  # fmt: skip
def run(pipeline_id: str, version: Version = None) -> tuple[dict[str, Any], int]:
    return container().pipeline_runs.request(caller(router), pipeline_id, version=version), 201


@router.get("/pipeline-runs/<run_id>", tags=["pipelines"], summary="A pipeline run: status, per-node status, outputs")
def show_run(run_id: str) -> dict[str, Any]:
    return container().pipeline_runs.show(caller(router), run_id)  # type: ignore[no-any-return]


@router.get("/pipelines/<pipeline_id>/runs", tags=["pipelines"], summary="A pipeline's runs, newest first")
def list_runs(pipeline_id: str) -> dict[str, Any]:
    return {"items": container().pipeline_runs.list(caller(router), pipeline_id)}


@router.post("/pipeline-runs/<run_id>/retry", tags=["pipelines"], status_code=201,
             summary="Retry a run from a node, reusing the cached outputs of the others")  # fmt: skip
def retry_run(run_id: str, body: s.RetryRun) -> tuple[dict[str, Any], int]:
    doc = container().pipeline_runs.retry(caller(router), run_id, from_node=body.from_node, version=body.version)
    return doc, 201


@router.post("/pipeline-runs/<run_id>/cancel", tags=["pipelines"], summary="Cancel a run and its nodes' work")
def cancel_run(run_id: str, body: s.CancelRun) -> dict[str, Any]:
    return container().pipeline_runs.cancel(caller(router), run_id, reason=body.reason)  # type: ignore[no-any-return]


@router.post("/pipeline-runs/<run_id>/approvals/<node>", tags=["pipelines"],
             summary="Approve or reject a run's approval node (one of its approvers)")  # fmt: skip
def decide_approval(run_id: str, node: str, body: s.ApprovalDecision) -> dict[str, Any]:
    doc = container().pipeline_runs.decide(caller(router), run_id, node, approve=body.decision == "approve",
                                           comment=body.comment)  # fmt: skip
    return doc  # type: ignore[no-any-return]
