"""Events of a study's stream ``study-<study id>``: its definition, every trial's life, and the end.

The stream is the study's only storage: the sampler (``runtime.adapters.optuna_sampler``) rebuilds
its optimiser from these events at each ask.
"""

from __future__ import annotations

from typing import Any

from domain.events import DomainEvent, event


@event("study.requested")
class StudyRequested(DomainEvent):
    """The study as asked: the search workflow's run (``run_id``) starts from this (one write,
    the start-study-run reaction)."""

    study_id: str
    project_id: str
    name: str
    space: list[dict[str, Any]]  # domain.studies.space.Param.to_dict() each
    strategy: str
    objectives: list[dict[str, Any]]  # {"name", "expression", "direction"}
    constraints: list[str] = []
    intermediate: dict[str, Any] | None = None  # {"metric", "direction"}: what the pruner watches
    pruner: dict[str, Any] | None = None  # {"kind", ...options}
    max_trials: int
    max_wall_s: int | None = None
    target: float | None = None
    parallelism: int = 1
    seed: int = 0
    folds: int = 0  # k-fold cross-validation: k jobs per trial (0: none)
    config_id: str
    config_version: int
    family: str
    base_values: dict[str, Any]  # the config's values at config_version
    dataset_id: str
    model_id: str | None = None  # trials start from this library model (fine-tuning)
    enqueued: list[dict[str, Any]] = []  # points the user listed, asked first
    warm_start: list[dict[str, Any]] = []  # {"params", "values"} of another study's completed trials
    warm_start_from: str | None = None
    run_id: str
    job_options: dict[str, Any] = {}  # extra train-job hyperparameters: eval_every, log_every, num_threads
    steps_per_trial: int | None = None  # training.max_steps override for every trial (0/None: the config's)


@event("study.trial_asked")
class TrialAsked(DomainEvent):
    number: int
    round: int
    params: dict[str, Any]
    source: str = "sampler"  # sampler | enqueued | grid
    attrs: dict[str, Any] = {}  # the sampler's bookkeeping for this trial (e.g. CMA-ES, NSGA-II state)


@event("study.trial_running")
class TrialRunning(DomainEvent):
    number: int
    jobs: list[str]


@event("study.trial_reported")
class TrialReported(DomainEvent):
    """Intermediate values the trial's job reported (validation metric at a step), with where
    the job's log was read up to and the pruner's bookkeeping (e.g. ASHA's completed rungs)."""

    number: int
    values: dict[str, float]  # step (as str) -> value
    log_cursor: dict[str, int] = {}
    attrs: dict[str, Any] = {}


@event("study.trial_pruned")
class TrialPruned(DomainEvent):
    number: int
    step: int
    value: float | None


@event("study.trial_completed")
class TrialCompleted(DomainEvent):
    number: int
    values: list[float]
    constraints: list[float] = []
    feasible: bool = True
    metrics: dict[str, float] = {}
    std: list[float] | None = None  # k-fold: std of each objective over the folds


@event("study.trial_failed")
class TrialFailed(DomainEvent):
    number: int
    reason: str


@event("study.settings_changed")
class SettingsChanged(DomainEvent):
    """Budget or parallelism changed while it runs: takes effect at the next round."""

    parallelism: int | None = None
    max_trials: int | None = None
    max_wall_s: int | None = None
    target: float | None = None


@event("study.cancel_requested")
class CancelRequested(DomainEvent):
    reason: str = ""


@event("study.finished")
class StudyFinished(DomainEvent):
    """The study ended: why (budget | target | time | exhausted | cancelled | failed), its best
    trial, and what was registered from it."""

    reason: str
    best_trial: int | None = None
    model_id: str | None = None
    best_config_id: str | None = None
    best_config_version: int | None = None
    error: str = ""


@event("study.resumed")
class StudyResumed(DomainEvent):
    """A failed or cancelled study goes on under a new run (the start-study-run reaction)."""

    run_id: str
    study_id: str
