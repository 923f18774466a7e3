"""Metrics and lineage of a model, the leaderboard per project and dataset, side-by-side
comparison of two models, and masked-LM pretraining registered as a library model."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.router import APIGatewayRouter
from pydantic import Field

from functions.api.deps import caller, container
from functions.api.schemas import Body

router = APIGatewayRouter()
SORT_HELP = "test_accuracy | macro_f1 | best_val_loss | train_minutes | parameters | examples; '-': descending"


class StartPretraining(Body):
    template: str = Field(min_length=1, max_length=64, examples=["bert-tiny"])
    dataset_ids: list[str] = Field(min_length=1, max_length=8, description="library entries with text files")
    name: str = Field(min_length=1, max_length=128, description="name of the pretrained model in the library")
    max_steps: int = Field(default=500, ge=1, le=200_000)
    batch_size: int = Field(default=32, ge=1, le=4096)
    learning_rate: float = Field(default=1e-3, gt=0, lt=1)
    time_budget_s: int = Field(default=0, ge=0, le=604_800, description="0: none; else stop after it")
    overrides: dict[str, Any] = Field(default_factory=dict, description="dotted config paths on the template")


@router.get(
    "/projects/<project_id>/leaderboard", tags=["models"], summary="Trained models on one dataset, ranked by a metric"
)
def leaderboard(
    project_id: str,
    dataset_id: Annotated[str, Query(min_length=1, max_length=64)],
    sort: Annotated[str, Query(description=SORT_HELP)] = "-test_accuracy",
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> dict[str, Any]:
    return container().leaderboard.leaderboard(caller(router), project_id, dataset_id=dataset_id, sort=sort,
                                               limit=limit)  # fmt: skip


@router.get("/models/<model_id>/metrics", tags=["models"], summary="Test metrics and lineage of a model")
def model_metrics(model_id: str) -> dict[str, Any]:
    return container().leaderboard.model(caller(router), model_id)


@router.get(
    "/models/<model_id>/compare/<other_id>", tags=["models"], summary="Two models side by side: metrics, config diff"
)
def compare(model_id: str, other_id: str) -> dict[str, Any]:
    return container().leaderboard.compare(caller(router), model_id, other_id)


@router.post(
    "/projects/<project_id>/pretrainings", tags=["trainings"], summary="Start masked-LM pretraining", status_code=201
)
def start_pretraining(project_id: str, body: StartPretraining) -> tuple[dict[str, Any], int]:
    return container().pretraining.start(caller(router), project_id, **body.model_dump()), 201


@router.get(
    "/projects/<project_id>/pretrainings/<job_name>", tags=["trainings"],
    summary="A pretraining job; once completed, the library model it registered",
)  # fmt: skip
def pretraining(project_id: str, job_name: str) -> dict[str, Any]:
    return container().pretraining.status(caller(router), project_id, job_name)
