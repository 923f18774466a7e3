"""Hyperparameter search studies: start (checked first; one write, the search workflow follows),
read (state, trials, best, the StudyData dict, plots as JSON), steer (settings, cancel, resume)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.router import APIGatewayRouter
from pydantic import Field

from functions.api.deps import caller, container
from functions.api.schemas import MAX_INT, Body

router = APIGatewayRouter()
Strategy = Literal["grid", "random", "cv-grid", "cv-random", "gp", "tpe", "cmaes", "sobol", "nsga2"]
TrialState = Literal["asked", "running", "complete", "pruned", "failed"]
Scalar = str | int | float | bool


class Objective(Body):
    expression: str = Field(min_length=1, max_length=500, examples=["val_accuracy - 1e-8 * parameters"])
    direction: Literal["maximize", "minimize"] = "maximize"
    name: str | None = Field(default=None, max_length=100)


class Pruner(Body):
    kind: Literal["none", "median", "percentile", "asha", "hyperband"]
    n_startup_trials: int | None = Field(default=None, ge=0, le=1000)
    n_warmup_steps: int | None = Field(default=None, ge=0, le=10**7)
    percentile: float | int | None = Field(default=None, ge=0, le=100)
    min_resource: int | None = Field(default=None, ge=1, le=10**7)
    max_resource: int | None = Field(default=None, ge=1, le=10**7)
    reduction_factor: int | None = Field(default=None, ge=2, le=100)


class Intermediate(Body):
    metric: str = Field(min_length=1, max_length=64)
    direction: Literal["maximize", "minimize"] = "maximize"


class StartStudy(Body):
    name: str = Field(min_length=1, max_length=128, description="the best model is registered as <name>-best")
    config_id: str = Field(min_length=1, max_length=64)
    dataset_id: str = Field(min_length=1, max_length=64)
    model_id: str | None = Field(default=None, min_length=1, max_length=64, description="fine-tune this model")
    space: dict[str, dict[str, Any]] | list[dict[str, Any]] = Field(
        description="config path -> {type: float|int|categorical, low, high, log, step, choices, when}"
    )
    strategy: Strategy = "tpe"
    objectives: list[str | Objective] = Field(default_factory=lambda: ["val_accuracy"], min_length=1, max_length=4)
    constraints: list[str] = Field(default_factory=list, max_length=8, examples=[["parameters <= 5e6"]])
    pruner: Pruner | None = None
    intermediate: Intermediate | None = None
    max_trials: int = Field(default=20, ge=1, le=MAX_INT)
    max_wall_s: int | None = Field(default=None, ge=1, le=MAX_INT)
    target: float | int | None = None
    parallelism: int = Field(default=1, ge=1, le=MAX_INT)
    seed: int = Field(default=0, ge=0, le=MAX_INT)
    folds: int | None = Field(default=None, ge=0, le=MAX_INT)
    enqueue: list[dict[str, Scalar]] = Field(default_factory=list, max_length=100)
    warm_start_from: str | None = Field(default=None, min_length=1, max_length=64)
    steps_per_trial: int | None = Field(default=None, ge=1, le=MAX_INT)
    job_options: dict[str, int] = Field(default_factory=dict)


class ChangeStudy(Body):
    parallelism: int | None = Field(default=None, ge=1, le=MAX_INT)
    max_trials: int | None = Field(default=None, ge=1, le=MAX_INT)
    max_wall_s: int | None = Field(default=None, ge=1, le=MAX_INT)
    target: float | int | None = None


class CancelStudy(Body):
    reason: str = Field(default="", max_length=500)


@router.post("/projects/<project_id>/studies", tags=["studies"], summary="Start a study (checked first)",
             status_code=201)  # fmt: skip
def start(project_id: str, body: StartStudy) -> tuple[dict[str, Any], int]:
    args = body.model_dump(exclude_none=True)
    args["objectives"] = [o if isinstance(o, str) else o.model_dump(exclude_none=True) for o in body.objectives]
    if body.pruner is not None:
        args["pruner"] = body.pruner.model_dump(exclude_none=True)
    return container().studies.start(caller(router), project_id, **args), 201


@router.get("/projects/<project_id>/studies", tags=["studies"], summary="The project's studies, newest first")
def list_studies(project_id: str) -> dict[str, Any]:
    return {"items": container().studies.list(caller(router), project_id)}


@router.get("/studies/<study_id>", tags=["studies"], summary="State, counts, best trial, settings")
def get_study(study_id: str) -> dict[str, Any]:
    return container().studies.get(caller(router), study_id)


@router.get("/studies/<study_id>/trials", tags=["studies"], summary="Every trial (or those in one state)")
def trials(study_id: str, state: Annotated[TrialState | None, Query()] = None) -> dict[str, Any]:
    return {"items": container().studies.trials(caller(router), study_id, state=state)}


@router.get("/studies/<study_id>/best", tags=["studies"], summary="The best feasible trial (and the Pareto front)")
def best(study_id: str) -> dict[str, Any]:
    return container().studies.best(caller(router), study_id)


@router.get("/studies/<study_id>/data", tags=["studies"], summary="The study as the plots take it (StudyData)")
def data(study_id: str) -> dict[str, Any]:
    return container().studies.study_data(caller(router), study_id)


@router.get("/studies/<study_id>/plots", tags=["studies"], summary="Every plot as JSON (after=N: trials >= N)")
def plots(study_id: str, after: Annotated[int | None, Query(ge=0, le=MAX_INT)] = None) -> dict[str, Any]:
    from runtime.services import study_plots

    return study_plots.all_plots(container().studies.study_data(caller(router), study_id), after)  # type: ignore[arg-type]


@router.post("/studies/<study_id>/settings", tags=["studies"], summary="Change parallelism or budget (next round)")
def change(study_id: str, body: ChangeStudy) -> dict[str, Any]:
    return container().studies.change(caller(router), study_id, **body.model_dump())


@router.post("/studies/<study_id>/cancel", tags=["studies"], summary="Cancel: running trials are stopped")
def cancel(study_id: str, body: CancelStudy | None = None) -> dict[str, Any]:
    return container().studies.cancel(caller(router), study_id, reason=body.reason if body else "")


@router.post("/studies/<study_id>/resume", tags=["studies"], summary="Resume a failed or cancelled study")
def resume(study_id: str) -> dict[str, Any]:
    return container().studies.resume(caller(router), study_id)
