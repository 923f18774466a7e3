"""Read models of the study routes (``functions.api.routers.studies``), hooked into the OpenAPI
document next to ``functions.api.read_models.RESPONSES``."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from functions.api.read_base import Out


class Trial(Out):
    number: int
    round: int
    state: str
    params: dict[str, Any]
    values: list[float] | None
    constraints: list[float] | None
    feasible: bool | None
    intermediate: dict[str, float]
    jobs: list[str]


class TrialList(Out):
    items: list[Trial]


class Study(Out):
    study_id: str
    project_id: str
    name: str
    strategy: str
    status: str
    finished_reason: str | None
    directions: list[str]
    counts: dict[str, int]
    parallelism: int
    max_trials: int
    best: Trial | None
    best_model_id: str | None
    best_config_id: str | None


class StudyItem(Out):
    study_id: str
    name: str
    status: str
    counts: dict[str, int]


class StudyList(Out):
    items: list[StudyItem]


class Best(Trial):
    study_id: str
    model_id: str | None
    config_id: str | None


class StudyData(Out):
    study_id: str
    directions: list[str]
    objective_names: list[str]
    space: list[dict[str, Any]]
    trials: list[dict[str, Any]]


class Plots(Out):
    study_id: str | None
    n_trials: int
    history: dict[str, Any]


STUDY_RESPONSES: dict[tuple[str, str], type[BaseModel]] = {
    ("POST", "/projects/<project_id>/studies"): Study,
    ("GET", "/projects/<project_id>/studies"): StudyList,
    ("GET", "/studies/<study_id>"): Study,
    ("GET", "/studies/<study_id>/trials"): TrialList,
    ("GET", "/studies/<study_id>/best"): Best,
    ("GET", "/studies/<study_id>/data"): StudyData,
    ("GET", "/studies/<study_id>/plots"): Plots,
    ("POST", "/studies/<study_id>/settings"): Study,
    ("POST", "/studies/<study_id>/cancel"): Study,
    ("POST", "/studies/<study_id>/resume"): Study,
}


RESPONSES = STUDY_RESPONSES  # found by functions.api.read_models.collect
