"""Training runs: validated before any job, then the ``train`` workflow (prepare data -> train
job -> evaluate job -> register the model)."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.router import APIGatewayRouter
from pydantic import Field

from functions.api.deps import caller, container
from functions.api.schemas import MAX_INT, Body

router = APIGatewayRouter()


class StartTraining(Body):
    config_id: str | None = Field(default=None, min_length=1, max_length=64,
                                  description="parameter config; optional with model_id (fine-tune defaults)")
    dataset_id: str = Field(min_length=1, max_length=64)
    model_id: str | None = Field(default=None, min_length=1, max_length=64,
                                 description="a library model (Hugging Face dir, safetensors) to fine-tune")
    name: str = Field(min_length=1, max_length=128, description="name of the trained model in the library")


class CancelTraining(Body):
    reason: str = Field(default="", max_length=1000)


@router.post(
    "/projects/<project_id>/trainings", tags=["trainings"], summary="Start a training (checked first)", status_code=201
)
def start(project_id: str, body: StartTraining) -> tuple[dict[str, Any], int]:
    return container().training.start(caller(router), project_id, **body.model_dump()), 201


@router.get("/projects/<project_id>/trainings", tags=["trainings"], summary="The project's trainings, newest first")
def list_trainings(project_id: str) -> dict[str, Any]:
    return {"items": container().training.list(caller(router), project_id)}


@router.get("/trainings/<training_id>", tags=["trainings"], summary="State, steps, jobs, metrics, model, evaluation")
def get_training(training_id: str) -> dict[str, Any]:
    return container().training.get(caller(router), training_id)


@router.get(
    "/trainings/<training_id>/logs", tags=["trainings"], summary="Log lines of a job of the run (default: the latest)"
)
def logs(
    training_id: str,
    start: Annotated[int, Query(ge=0, le=MAX_INT)] = 0,
    job: Annotated[str | None, Query(description="a job name from 'jobs'")] = None,
) -> dict[str, Any]:
    return container().training.logs(caller(router), training_id, start=start, job=job)


@router.post("/trainings/<training_id>/cancel", tags=["trainings"], summary="Cancel: stops the running job")
def cancel(training_id: str, body: CancelTraining | None = None) -> dict[str, Any]:
    return container().training.cancel(caller(router), training_id, reason=body.reason if body else "")
