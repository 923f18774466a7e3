"""The release center: model versions, aliases, approvals, the release policy, deployments and
predictions (``runtime.services.model_versions``, ``runtime.services.releases``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.router import APIGatewayRouter
from pydantic import Field

from functions.api.deps import caller, container
from functions.api.openapi import ErrorBody
from functions.api.routers.configs import _time as parse_time
from functions.api.schemas import MAX_INT, Body

router = APIGatewayRouter()
TIME = Query(description="ISO 8601 time: as the log held it then")
UNAVAILABLE = {503: {"description": "The serving backend or the slot is not available",
                     "content": {"application/json": {"model": ErrorBody}}}}  # fmt: skip
Number = Annotated[float, Field(ge=0, le=MAX_INT)]


def _time(value: str | None) -> datetime | None:
    return parse_time(value, "as_of")


class Params(Body):
    """Serving parameters (every field optional; the domain checks ranges and names the field)."""

    runtime: Literal["onnxruntime-int8", "onnxruntime-fp32", "torch"] | None = None
    threads: int | None = Field(default=None, ge=-MAX_INT, le=MAX_INT)
    max_batch: int | None = Field(default=None, ge=-MAX_INT, le=MAX_INT)
    batch_delay_ms: int | None = Field(default=None, ge=-MAX_INT, le=MAX_INT)
    max_seq_len: int | None = Field(default=None, ge=-MAX_INT, le=MAX_INT)
    instance_type: str | None = Field(default=None, max_length=64)
    memory_mb: int | None = Field(default=None, ge=-MAX_INT, le=MAX_INT)
    min_instances: int | None = Field(default=None, ge=-MAX_INT, le=MAX_INT)
    max_instances: int | None = Field(default=None, ge=-MAX_INT, le=MAX_INT)
    timeout_s: float | None = Field(default=None, ge=-MAX_INT, le=MAX_INT)
    startup_timeout_s: float | None = Field(default=None, ge=-MAX_INT, le=MAX_INT)

    def values(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


class CreateVersion(Body):
    compile_id: str | None = Field(default=None, max_length=64, description="from a compile (else the model itself)")
    params: Params | None = None
    description: str = Field(default="", max_length=4000)
    parent_version_id: str | None = Field(default=None, max_length=200)


class UpdateParams(Body):
    params: Params


class RequestApproval(Body):
    stage: str = Field(default="production", max_length=63)


class Decide(Body):
    comment: str = Field(default="", max_length=4000)


class MoveAlias(Body):
    version_id: str = Field(min_length=1, max_length=200)


class Policy(Body):
    protected_stages: list[Annotated[str, Field(max_length=63)]] = Field(max_length=32)


class Strategy(Body):
    kind: Literal["all_at_once", "canary", "linear"] = "all_at_once"
    percent: int | None = Field(default=None, ge=-MAX_INT, le=MAX_INT, description="canary share / linear step, 1-99")
    bake_s: Number = 0.0


class Thresholds(Body):
    max_error_rate: Number | None = None
    max_p99_ms: Number | None = None
    min_invocations: int | None = Field(default=None, ge=0, le=MAX_INT)

    def values(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


class StartDeployment(Body):
    version_id: str = Field(min_length=1, max_length=200)
    name: str = Field(default="", max_length=128)
    thresholds: Thresholds | None = None


class UpdateDeployment(Body):
    version_id: str = Field(min_length=1, max_length=200)
    strategy: Strategy | None = None
    thresholds: Thresholds | None = None


class Reason(Body):
    reason: str = Field(default="", max_length=1000)


class Shadow(Body):
    version_id: str = Field(min_length=1, max_length=200)
    percent: int = Field(ge=-MAX_INT, le=MAX_INT, description="share of requests copied, 1-100")


class Predict(Body):
    texts: list[str] = Field(min_length=1, max_length=10_000, examples=[["这部电影很好看", "服务太差了"]])


# ------------------------------------------------------------------ versions


@router.post("/models/<model_id>/versions", tags=["versions"], summary="Create a version (from the model or a compile)",
             status_code=201)  # fmt: skip
def create_version(model_id: str, body: CreateVersion) -> tuple[dict[str, Any], int]:
    params = body.params.values() if body.params else None
    doc = container().versions.create(
        caller(router), model_id=None if body.compile_id else model_id, compile_id=body.compile_id,
        expect_model_id=model_id, params=params, description=body.description,
        parent_version_id=body.parent_version_id,
    )  # fmt: skip
    return doc, 201


@router.get("/models/<model_id>/versions", tags=["versions"], summary="The model's versions, newest first")
def list_versions(model_id: str, as_of: Annotated[str | None, TIME] = None) -> dict[str, Any]:
    return {"items": container().versions.list_versions(caller(router), model_id, as_of=_time(as_of))}


@router.get("/versions/<version_id>", tags=["versions"], summary="A version: files, config, compile, metrics, lineage")
def get_version(version_id: str, as_of: Annotated[str | None, TIME] = None) -> dict[str, Any]:
    return container().versions.show(caller(router), version_id, as_of=_time(as_of))


@router.get("/versions/<version_id>/diff", tags=["versions"], summary="What differs from another version")
def diff_versions(version_id: str, other: Annotated[str, Query(max_length=200)]) -> dict[str, Any]:
    return container().versions.diff(caller(router), version_id, other)


@router.patch("/versions/<version_id>/params", tags=["versions"], summary="Change serving parameters (history kept)")
def update_params(version_id: str, body: UpdateParams) -> dict[str, Any]:
    return container().versions.update_params(caller(router), version_id, body.params.values())


@router.get("/versions/<version_id>/params/history", tags=["versions"], summary="Every parameter revision and its diff")
def params_history(version_id: str) -> dict[str, Any]:
    return {"items": container().versions.params_history(caller(router), version_id)}


@router.post("/versions/<version_id>/approvals", tags=["versions"], summary="Ask for an approval for a stage")
def request_approval(version_id: str, body: RequestApproval) -> dict[str, Any]:
    return container().versions.request_approval(caller(router), version_id, body.stage)


@router.post("/versions/<version_id>/approvals/<stage>/approve", tags=["versions"],
             summary="Approve (someone other than the requester); the evidence is recorded")  # fmt: skip
def approve(version_id: str, stage: str, body: Decide | None = None) -> dict[str, Any]:
    return container().versions.approve(caller(router), version_id, stage, comment=body.comment if body else "")


@router.post("/versions/<version_id>/approvals/<stage>/reject", tags=["versions"], summary="Reject a pending approval")
def reject(version_id: str, stage: str, body: Decide | None = None) -> dict[str, Any]:
    return container().versions.reject(caller(router), version_id, stage, comment=body.comment if body else "")


@router.get("/models/<model_id>/aliases", tags=["versions"], summary="Stage aliases and every move (who, why)")
def get_aliases(model_id: str, as_of: Annotated[str | None, TIME] = None) -> dict[str, Any]:
    return container().versions.aliases(caller(router), model_id, as_of=_time(as_of))


@router.put("/models/<model_id>/aliases/<alias>", tags=["versions"], summary="Point a stage alias at a version")
def move_alias(model_id: str, alias: str, body: MoveAlias) -> dict[str, Any]:
    return container().versions.move_alias(caller(router), model_id, alias, body.version_id)


@router.delete("/models/<model_id>/aliases/<alias>", tags=["versions"], summary="Remove a stage alias")
def remove_alias(model_id: str, alias: str) -> dict[str, Any]:
    return container().versions.remove_alias(caller(router), model_id, alias)


@router.get("/projects/<project_id>/release-policy", tags=["versions"], summary="The stages that need an approval")
def get_policy(project_id: str) -> dict[str, Any]:
    return container().versions.policy(caller(router), project_id)


@router.put("/projects/<project_id>/release-policy", tags=["versions"], summary="Set the protected stages (owner)")
def set_policy(project_id: str, body: Policy) -> dict[str, Any]:
    return container().versions.set_policy(caller(router), project_id, list(body.protected_stages))


# ------------------------------------------------------------------ deployments


@router.post("/deployments", tags=["deployments"], summary="Deploy a version (health-checked before traffic)",
             status_code=201, responses=UNAVAILABLE)  # fmt: skip
def start_deployment(body: StartDeployment) -> tuple[dict[str, Any], int]:
    thresholds = body.thresholds.values() if body.thresholds else None
    return container().releases.start(caller(router), body.version_id, name=body.name, thresholds=thresholds), 201


@router.get("/projects/<project_id>/deployments", tags=["deployments"], summary="The project's deployments")
def list_deployments(project_id: str) -> dict[str, Any]:
    return {"items": container().releases.list_deployments(caller(router), project_id)}


@router.get("/deployments/<deployment_id>", tags=["deployments"], summary="Status, traffic split, slots, history")
def get_deployment(deployment_id: str, as_of: Annotated[str | None, TIME] = None) -> dict[str, Any]:
    return container().releases.show(caller(router), deployment_id, as_of=_time(as_of))


@router.post("/deployments/<deployment_id>/update", tags=["deployments"],
             summary="Update to a version: all at once, canary or linear, with automatic rollback")  # fmt: skip
def update_deployment(deployment_id: str, body: UpdateDeployment) -> dict[str, Any]:
    strategy = body.strategy.model_dump(exclude_none=True) if body.strategy else None
    thresholds = body.thresholds.values() if body.thresholds else None
    return container().releases.update(caller(router), deployment_id, body.version_id, strategy=strategy,
                                       thresholds=thresholds)  # fmt: skip


@router.post("/deployments/<deployment_id>/rollback", tags=["deployments"],
             summary="One step back: the update in progress, else the previous version (pre-checked)")  # fmt: skip
def rollback_deployment(deployment_id: str, body: Reason | None = None) -> dict[str, Any]:
    return container().releases.rollback(caller(router), deployment_id, reason=body.reason if body else "")


@router.post("/deployments/<deployment_id>/stop", tags=["deployments"], summary="Stop serving")
def stop_deployment(deployment_id: str, body: Reason | None = None) -> dict[str, Any]:
    return container().releases.stop(caller(router), deployment_id, reason=body.reason if body else "")


@router.post("/deployments/<deployment_id>/shadow", tags=["deployments"],
             summary="Copy a share of requests to a candidate; answers stay the primary's")  # fmt: skip
def start_shadow(deployment_id: str, body: Shadow) -> dict[str, Any]:
    return container().releases.shadow(caller(router), deployment_id, body.version_id, body.percent)


@router.delete("/deployments/<deployment_id>/shadow", tags=["deployments"], summary="End the shadow test")
def stop_shadow(deployment_id: str) -> dict[str, Any]:
    return container().releases.stop_shadow(caller(router), deployment_id)


@router.post("/deployments/<deployment_id>/predict", tags=["deployments"],
             summary="Texts in, labels and scores out (by the traffic split)", responses=UNAVAILABLE)  # fmt: skip
def predict(deployment_id: str, body: Predict) -> dict[str, Any]:
    return container().releases.predict(caller(router), deployment_id, body.texts)


@router.get("/deployments/<deployment_id>/metrics", tags=["deployments"],
            summary="Invocations, errors, p50/p95/p99 over time per slot and version")  # fmt: skip
def deployment_metrics(
    deployment_id: str,
    sample: Annotated[bool, Query(description="take a sample now first")] = False,
    since: Annotated[float | None, Query(ge=0, le=MAX_INT, description="unix seconds")] = None,
    as_of: Annotated[str | None, TIME] = None,
) -> dict[str, Any]:
    return container().release_monitor.metrics(caller(router), deployment_id, sample=sample, since=since,
                                               as_of=_time(as_of))  # fmt: skip
