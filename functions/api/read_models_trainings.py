"""Read models of trainings, pretrainings, demo dataset imports and the metrics reads over them
(``runtime.services.training``, ``.pretraining``, ``.leaderboard``)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from functions.api.read_base import Out
from functions.api.read_models_runs import Step
from functions.api.schemas import Family


class TrainingJob(Out):
    step: str
    job: str
    status: str


class Progress(Out):
    percent: float | None
    eta_s: float | None
    steps_per_s: float | None
    phase: str | None


class Training(Out):
    training_id: str
    project_id: str
    name: str
    config_id: str
    config_version: int
    family: Family
    dataset_id: str
    run_id: str
    state: str
    outcome: str | None
    current_step: str | None
    error: str | None
    cause: str | None
    started_at: str | None
    ended_at: str | None
    duration_s: float | None
    steps: list[Step]
    jobs: list[TrainingJob]
    live_metrics: dict[str, float]
    queue_position: int | None
    progress: Progress
    parent_model_id: str | None
    parent_model_version: int | None
    model_id: str | None
    metrics: dict[str, Any]
    evaluation: dict[str, Any]


class TrainingSummary(Out):
    training_id: str
    name: str
    state: str
    model_id: str | None
    started_at: str | None


class TrainingList(Out):
    items: list[TrainingSummary]


class TrainingLogs(Out):
    training_id: str
    job: str | None
    lines: list[str]
    next: int
    jobs: list[str]
    state: str
    finished: bool


class DemoImport(Out):
    job_name: str
    state: str
    dataset_id: str | None
    failure_reason: str | None = None  # absent while a not-waited-for import starts
    rows: int | None = None  # once completed: rows imported ...
    available: int | None = None  # ... and rows in the corpus


class PretrainingProgress(Out):
    percent: float | None
    eta_s: float | None


class Pretraining(Out):
    job_name: str
    state: str
    failure_reason: str | None
    model_id: str | None
    progress: PretrainingProgress
    metrics: dict[str, float]


class ConfusionMatrix(Out):
    labels: list[str]
    rows_true_cols_pred: list[list[int]]


class Metrics(Out):
    test_accuracy: float | None
    macro_f1: float | None
    examples: int | None
    best_val_loss: float | None
    parameters: int | None
    stop_reason: str | None
    steps: int | None
    confusion_matrix: ConfusionMatrix | None = None  # not in leaderboard rows
    train_minutes: float | None = None  # leaderboard rows only


class Lineage(Out):
    """A trained model's (training, dataset, config, parent) or a pretrained one's (its job)."""

    training_id: str | None = None
    dataset_id: str | None = None
    config_id: str | None = None
    config_version: int | None = None
    parent_model_id: str | None = None
    parent_model_version: int | None = None
    pretrain_job: str | None = None


class ModelMetrics(Out):
    model_id: str
    name: str
    metrics: Metrics | None
    lineage: Lineage | None


class LeaderboardRow(Metrics):
    model_id: str
    name: str
    family: Family
    lineage: Lineage
    rank: int


class Leaderboard(Out):
    project_id: str
    dataset_id: str
    sort: str
    items: list[LeaderboardRow]
    total: int


class Side(Out):
    model_id: str
    name: str
    family: Family
    lineage: Lineage | None
    confusion_matrix: ConfusionMatrix | None


class MetricPair(Out):
    a: float | None
    b: float | None
    delta: float | None


class ConfigChange(Out):
    path: str
    kind: str
    old: Any = None
    new: Any = None


class Comparison(Out):
    a: Side
    b: Side
    metrics: dict[str, MetricPair]
    config_diff: list[ConfigChange] | None


RESPONSES: dict[tuple[str, str], type[BaseModel]] = {
    ("POST", "/projects/<project_id>/trainings"): Training,
    ("GET", "/projects/<project_id>/trainings"): TrainingList,
    ("GET", "/trainings/<training_id>"): Training,
    ("GET", "/trainings/<training_id>/logs"): TrainingLogs,
    ("POST", "/trainings/<training_id>/cancel"): Training,
    ("POST", "/projects/<project_id>/datasets/demo-sentiment"): DemoImport,
    ("GET", "/projects/<project_id>/datasets/imports/<job_name>"): DemoImport,
    ("POST", "/projects/<project_id>/pretrainings"): Pretraining,
    ("GET", "/projects/<project_id>/pretrainings/<job_name>"): Pretraining,
    ("GET", "/projects/<project_id>/leaderboard"): Leaderboard,
    ("GET", "/models/<model_id>/metrics"): ModelMetrics,
    ("GET", "/models/<model_id>/compare/<other_id>"): Comparison,
}
