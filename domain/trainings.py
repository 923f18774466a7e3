"""Training aggregate: what was asked (config version, dataset, name, and the library model it
starts from, if any: ``parent_model_id`` / ``parent_model_version``) and what came of it (the
registered model, its metrics and evaluation) — the trained model's lineage. Progress, jobs and
the end state live in the workflow run ``workflowrun-<run id>``; the training remembers which run is its own.

Stream: ``training-<training id>``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from domain.aggregate import Aggregate
from domain.errors import Conflict, Invalid, NotFound
from domain.events import Command, DomainEvent, event
from domain.library.values import clean_name

# What a library model needs to start a training (checked by the API and again by the job)
TOKENIZER_FILES = ("tokenizer.json", "vocab.txt")
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle")  # never loaded
MLM_FAMILIES = ("bert", "roberta", "albert", "electra")  # families jobs.pretrain can pretrain


@event("training.requested")
class TrainingRequested(DomainEvent):
    training_id: str
    project_id: str
    name: str
    config_id: str
    config_version: int
    family: str
    dataset_id: str
    run_id: str
    parent_model_id: str | None = None
    parent_model_version: int | None = None


@event("training.registered")
class TrainingRegistered(DomainEvent):
    """The trained model is in the library (``model_id``) with its final training metrics and
    the evaluation on the test split."""

    model_id: str
    metrics: dict[str, Any] = {}
    evaluation: dict[str, Any] = {}


@event("training.ended")
class TrainingEnded(DomainEvent):
    """The training's workflow run ended (recorded by the run-outcome reaction)."""

    status: str  # "succeeded" | "failed" | "cancelled"
    error: str = ""
    cause: str = ""


class RequestTraining(Command):
    training_id: str
    project_id: str
    name: str
    config_id: str
    config_version: int
    family: str
    dataset_id: str
    run_id: str
    parent_model_id: str | None = None
    parent_model_version: int | None = None


class RecordRegistration(Command):
    model_id: str
    metrics: dict[str, Any] = {}
    evaluation: dict[str, Any] = {}


class RecordOutcome(Command):
    status: Literal["succeeded", "failed", "cancelled"]
    error: str = ""
    cause: str = ""


@dataclass(frozen=True)
class Training:
    training_id: str = ""
    project_id: str = ""
    name: str = ""
    config_id: str = ""
    config_version: int = 0
    family: str = ""
    dataset_id: str = ""
    run_id: str = ""
    parent_model_id: str | None = None
    parent_model_version: int | None = None
    model_id: str | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    evaluation: dict[str, Any] = field(default_factory=dict)
    outcome: str | None = None  # how its run ended (training.ended); None while it runs
    outcome_error: str = ""
    outcome_cause: str = ""

    @property
    def exists(self) -> bool:
        return bool(self.training_id)


def evolve(state: Training, evt: DomainEvent) -> Training:
    if isinstance(evt, TrainingRequested):
        return Training(**{k: getattr(evt, k) for k in TrainingRequested.model_fields})
    if isinstance(evt, TrainingRegistered):
        return replace(state, model_id=evt.model_id, metrics=dict(evt.metrics), evaluation=dict(evt.evaluation))
    if isinstance(evt, TrainingEnded):
        return replace(state, outcome=evt.status, outcome_error=evt.error, outcome_cause=evt.cause)
    return state


def decide(state: Training, cmd: Command) -> Sequence[DomainEvent]:
    if isinstance(cmd, RequestTraining):
        if state.exists:
            raise Conflict("training exists", field="training_id")
        fields = {k: getattr(cmd, k) for k in TrainingRequested.model_fields if hasattr(cmd, k)}
        return [TrainingRequested(**{**fields, "name": clean_name(cmd.name)})]
    if not state.exists:
        raise NotFound("no such training", field="training_id")
    if isinstance(cmd, RecordRegistration):
        if state.model_id == cmd.model_id:
            return []  # the register step ran again (a restart): nothing new
        if state.model_id is not None:
            raise Conflict(f"training already registered model {state.model_id}", field="model_id")
        return [TrainingRegistered(model_id=cmd.model_id, metrics=cmd.metrics, evaluation=cmd.evaluation)]
    if isinstance(cmd, RecordOutcome):
        if state.outcome == cmd.status:
            return []  # a redelivered run end
        if state.outcome is not None:
            raise Conflict(f"training already {state.outcome}", field="status")
        return [TrainingEnded(status=cmd.status, error=cmd.error, cause=cmd.cause)]
    raise Invalid(f"unknown command {type(cmd).__name__}")


TRAININGS = Aggregate[Training]("training", Training, evolve, decide)
