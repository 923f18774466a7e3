"""Read models of the release center's routes for the OpenAPI document (extra fields allowed;
Schemathesis checks answers against them), hooked into ``functions.api.app`` next to
``read_models.RESPONSES``."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from functions.api.read_base import Out


class Version(Out):
    version_id: str
    project_id: str
    model_id: str
    number: int
    source: str = Field(description="training | compile | upload")
    files: dict[str, dict[str, Any]] = Field(description="path -> {blob, size, sha256}")
    config: dict[str, Any]
    compile_id: str | None
    metrics: dict[str, float]
    lineage: dict[str, Any]
    params: dict[str, Any]
    params_revision: int
    deployable: bool
    approvals: dict[str, dict[str, Any]]
    aliases: list[str] = []


class VersionDiff(Out):
    changes: list[dict[str, Any]]


class Aliases(Out):
    model_id: str
    aliases: dict[str, str]
    history: list[dict[str, Any]]


class ReleasePolicy(Out):
    project_id: str
    protected_stages: list[str]


class Deployment(Out):
    deployment_id: str
    project_id: str
    model_id: str
    name: str
    status: str = Field(description="deploying | running | updating | stopped | failed")
    primary: str | None
    primary_version: str | None
    weights: dict[str, int] = Field(description="slot -> percent of traffic")
    slots: dict[str, dict[str, Any]]
    update: dict[str, Any] | None
    shadow: dict[str, Any] | None
    history: list[dict[str, Any]]


class PredictionOut(Out):
    label: str
    score: float
    scores: dict[str, float]


class Predictions(Out):
    deployment_id: str
    slot: str
    version_id: str
    predictions: list[PredictionOut]


class DeploymentMetrics(Out):
    deployment_id: str
    series: list[dict[str, Any]]
    versions: list[dict[str, Any]]


class Items(Out):
    """A list answer: ``{"items": [...]}``."""

    items: list[dict[str, Any]]


RESPONSES: dict[tuple[str, str], type[BaseModel]] = {
    ("POST", "/models/<model_id>/versions"): Version,
    ("GET", "/models/<model_id>/versions"): Items,
    ("GET", "/versions/<version_id>"): Version,
    ("GET", "/versions/<version_id>/diff"): VersionDiff,
    ("PATCH", "/versions/<version_id>/params"): Version,
    ("GET", "/versions/<version_id>/params/history"): Items,
    ("POST", "/versions/<version_id>/approvals"): Version,
    ("POST", "/versions/<version_id>/approvals/<stage>/approve"): Version,
    ("POST", "/versions/<version_id>/approvals/<stage>/reject"): Version,
    ("GET", "/models/<model_id>/aliases"): Aliases,
    ("PUT", "/models/<model_id>/aliases/<alias>"): Aliases,
    ("DELETE", "/models/<model_id>/aliases/<alias>"): Aliases,
    ("GET", "/projects/<project_id>/release-policy"): ReleasePolicy,
    ("PUT", "/projects/<project_id>/release-policy"): ReleasePolicy,
    ("POST", "/deployments"): Deployment,
    ("GET", "/projects/<project_id>/deployments"): Items,
    ("GET", "/deployments/<deployment_id>"): Deployment,
    ("POST", "/deployments/<deployment_id>/update"): Deployment,
    ("POST", "/deployments/<deployment_id>/rollback"): Deployment,
    ("POST", "/deployments/<deployment_id>/stop"): Deployment,
    ("POST", "/deployments/<deployment_id>/shadow"): Deployment,
    ("DELETE", "/deployments/<deployment_id>/shadow"): Deployment,
    ("POST", "/deployments/<deployment_id>/predict"): Predictions,
    ("GET", "/deployments/<deployment_id>/metrics"): DeploymentMetrics,
}
