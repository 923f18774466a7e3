"""The study aggregate: a hyperparameter search whose stream holds its trials.

Stream ``study-<study id>``. Trials are numbered from 0 in ask order; each is asked in a round
(``round`` >= 1) and then runs, reports intermediate values, and ends pruned, completed or
failed. Idempotent under retries: asking a round that was asked already decides nothing (the
caller reads that round's trials), and any outcome for a trial that already ended decides nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from domain.aggregate import Aggregate
from domain.errors import Conflict, Invalid, NotFound
from domain.events import Command, DomainEvent
from domain.studies import events as ev

ENDED = ("complete", "pruned", "failed")


@dataclass(frozen=True)
class Trial:
    number: int
    round: int
    params: dict[str, Any]
    source: str = "sampler"
    state: str = "asked"  # asked | running | complete | pruned | failed
    jobs: tuple[str, ...] = ()
    intermediate: dict[str, float] = field(default_factory=dict)  # step (str) -> value
    log_cursor: dict[str, int] = field(default_factory=dict)
    attrs: dict[str, Any] = field(default_factory=dict)
    values: tuple[float, ...] | None = None
    constraints: tuple[float, ...] | None = None
    feasible: bool | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    std: tuple[float, ...] | None = None
    reason: str = ""
    pruned_step: int | None = None

    @property
    def ended(self) -> bool:
        return self.state in ENDED

    def last_value(self) -> float | None:
        if not self.intermediate:
            return None
        return self.intermediate[max(self.intermediate, key=int)]


@dataclass(frozen=True)
class Study:
    requested: ev.StudyRequested | None = None
    trials: tuple[Trial, ...] = ()
    parallelism: int = 1
    max_trials: int = 0
    max_wall_s: int | None = None
    target: float | None = None
    cancel_requested: bool = False
    finished: ev.StudyFinished | None = None
    run_id: str = ""
    resumes: int = 0

    @property
    def exists(self) -> bool:
        return self.requested is not None

    @property
    def rounds(self) -> int:
        return max((t.round for t in self.trials), default=0)

    def round_trials(self, round_: int) -> list[Trial]:
        return [t for t in self.trials if t.round == round_]

    def trial(self, number: int) -> Trial:
        if not 0 <= number < len(self.trials):
            raise NotFound(f"no trial {number}", field="number")
        return self.trials[number]

    @property
    def directions(self) -> list[str]:
        assert self.requested is not None
        return [o["direction"] for o in self.requested.objectives]

    def counts(self) -> dict[str, int]:
        out = {s: 0 for s in ("asked", "running", "complete", "pruned", "failed")}
        for t in self.trials:
            out[t.state] += 1
        return out

    def best(self) -> Trial | None:
        """The best feasible completed trial (single objective; several: the first of the Pareto
        front by the first objective)."""
        front = self.pareto_front()
        if not front:
            return None
        sign = 1 if self.directions[0] == "maximize" else -1
        return max(front, key=lambda t: (sign * (t.values or (0.0,))[0], -t.number))

    def pareto_front(self) -> list[Trial]:
        """Feasible completed trials no other feasible completed trial dominates."""
        done = [t for t in self.trials if t.state == "complete" and t.feasible and t.values is not None]
        signs = [1 if d == "maximize" else -1 for d in self.directions] if self.requested else []

        def key(t: Trial) -> list[float]:
            return [s * v for s, v in zip(signs, t.values or (), strict=False)]

        def dominates(a: Trial, b: Trial) -> bool:
            ka, kb = key(a), key(b)
            return all(x >= y for x, y in zip(ka, kb, strict=True)) and any(x > y for x, y in zip(ka, kb, strict=True))

        return [t for t in done if not any(dominates(o, t) for o in done if o is not t)]

    def budget_spent(self) -> int:
        """Trials that count against ``max_trials`` (every asked trial)."""
        return len(self.trials)

    def stop_reason(self, elapsed_s: float) -> str | None:
        """Why no further round starts (None: go on)."""
        if self.finished is not None:
            return self.finished.reason
        if self.cancel_requested:
            return "cancelled"
        if self.budget_spent() >= self.max_trials:
            return "budget"
        if self.max_wall_s is not None and elapsed_s >= self.max_wall_s:
            return "time"
        if self.target is not None and len(self.directions) == 1:
            best = self.best()
            if best is not None and best.values is not None:
                hit = (
                    best.values[0] >= self.target if self.directions[0] == "maximize" else best.values[0] <= self.target
                )
                if hit:
                    return "target"
        return None


# ---------------------------------------------------------------- commands


class RequestStudy(Command):
    requested: ev.StudyRequested


class AskTrials(Command):
    round: int
    points: list[dict[str, Any]]
    sources: list[str] = []
    attrs: list[dict[str, Any]] = []


class MarkRunning(Command):
    number: int
    jobs: list[str]


class Report(Command):
    number: int
    values: dict[str, float]
    log_cursor: dict[str, int] = {}
    attrs: dict[str, Any] = {}


class Prune(Command):
    number: int
    step: int
    value: float | None


class Complete(Command):
    number: int
    values: list[float]
    constraints: list[float] = []
    feasible: bool = True
    metrics: dict[str, float] = {}
    std: list[float] | None = None


class Fail(Command):
    number: int
    reason: str


class ChangeSettings(Command):
    parallelism: int | None = None
    max_trials: int | None = None
    max_wall_s: int | None = None
    target: float | None = None


class Cancel(Command):
    reason: str = ""


class Resume(Command):
    pass


class Finish(Command):
    reason: str
    best_trial: int | None = None
    model_id: str | None = None
    best_config_id: str | None = None
    best_config_version: int | None = None
    error: str = ""


def _set_trial(study: Study, number: int, **changes: Any) -> Study:
    trials = list(study.trials)
    trials[number] = replace(trials[number], **changes)
    return replace(study, trials=tuple(trials))


def evolve(state: Study, e: DomainEvent) -> Study:
    if isinstance(e, ev.StudyRequested):
        return Study(requested=e, parallelism=e.parallelism, max_trials=e.max_trials, max_wall_s=e.max_wall_s,
                     target=e.target, run_id=e.run_id)  # fmt: skip
    if isinstance(e, ev.StudyResumed):
        return replace(state, finished=None, cancel_requested=False, run_id=e.run_id, resumes=state.resumes + 1)
    if isinstance(e, ev.TrialAsked):
        return replace(
            state, trials=(*state.trials, Trial(e.number, e.round, dict(e.params), e.source, attrs=dict(e.attrs)))
        )
    if isinstance(e, ev.TrialRunning):
        return _set_trial(state, e.number, state="running", jobs=tuple(e.jobs))
    if isinstance(e, ev.TrialReported):
        t = state.trials[e.number]
        return _set_trial(state, e.number, intermediate={**t.intermediate, **e.values},
                          log_cursor={**t.log_cursor, **e.log_cursor}, attrs={**t.attrs, **e.attrs})  # fmt: skip
    if isinstance(e, ev.TrialPruned):
        return _set_trial(state, e.number, state="pruned", pruned_step=e.step)
    if isinstance(e, ev.TrialCompleted):
        return _set_trial(state, e.number, state="complete", values=tuple(e.values), constraints=tuple(e.constraints),
                          feasible=e.feasible, metrics=dict(e.metrics),
                          std=tuple(e.std) if e.std is not None else None)  # fmt: skip
    if isinstance(e, ev.TrialFailed):
        return _set_trial(state, e.number, state="failed", reason=e.reason)
    if isinstance(e, ev.SettingsChanged):
        return replace(
            state,
            parallelism=e.parallelism if e.parallelism is not None else state.parallelism,
            max_trials=e.max_trials if e.max_trials is not None else state.max_trials,
            max_wall_s=e.max_wall_s if e.max_wall_s is not None else state.max_wall_s,
            target=e.target if e.target is not None else state.target,
        )
    if isinstance(e, ev.CancelRequested):
        return replace(state, cancel_requested=True)
    if isinstance(e, ev.StudyFinished):
        return replace(state, finished=e)
    return state


def _live_trial(state: Study, number: int) -> Trial | None:
    """The trial, or None when it ended already (a retried outcome: no events)."""
    t = state.trial(number)
    return None if t.ended else t


def decide(state: Study, cmd: Command) -> Sequence[DomainEvent]:
    if isinstance(cmd, RequestStudy):
        if state.exists:
            raise Conflict("study exists", field="study_id")
        return [cmd.requested]
    if not state.exists:
        raise NotFound("no such study", field="study_id")
    if isinstance(cmd, AskTrials):
        if cmd.round <= state.rounds:
            return []  # this round was asked already (a retried ask)
        if cmd.round != state.rounds + 1:
            raise Conflict(f"round {cmd.round} asked after round {state.rounds}", field="round")
        if state.finished is not None:
            raise Conflict("the study has finished", field="study_id")
        start = len(state.trials)
        sources = cmd.sources or ["sampler"] * len(cmd.points)
        attrs = cmd.attrs or [{}] * len(cmd.points)
        return [ev.TrialAsked(number=start + i, round=cmd.round, params=p, source=s, attrs=a)
                for i, (p, s, a) in enumerate(zip(cmd.points, sources, attrs, strict=True))]  # fmt: skip
    if isinstance(cmd, MarkRunning):
        t = _live_trial(state, cmd.number)
        if t is None or (t.state == "running" and list(t.jobs) == cmd.jobs):
            return []
        return [ev.TrialRunning(number=cmd.number, jobs=cmd.jobs)]
    if isinstance(cmd, Report):
        t = _live_trial(state, cmd.number)
        new = {k: v for k, v in cmd.values.items() if t is not None and t.intermediate.get(k) != v}
        moved = t is not None and any(t.log_cursor.get(k) != v for k, v in cmd.log_cursor.items())
        if t is None or not (new or moved or any(t.attrs.get(k) != v for k, v in cmd.attrs.items())):
            return []
        return [ev.TrialReported(number=cmd.number, values=new, log_cursor=cmd.log_cursor, attrs=cmd.attrs)]
    if isinstance(cmd, Prune):
        return (
            [] if _live_trial(state, cmd.number) is None else [ev.TrialPruned(**cmd.model_dump(exclude={"command_id"}))]
        )
    if isinstance(cmd, Complete):
        if _live_trial(state, cmd.number) is None:
            return []
        if len(cmd.values) != len(state.directions):
            raise Invalid(f"{len(state.directions)} objective value(s) expected", field="values")
        return [ev.TrialCompleted(**cmd.model_dump(exclude={"command_id"}))]
    if isinstance(cmd, Fail):
        return [] if _live_trial(state, cmd.number) is None else [ev.TrialFailed(number=cmd.number, reason=cmd.reason)]
    if isinstance(cmd, ChangeSettings):
        if state.finished is not None:
            raise Conflict(f"the study has finished ({state.finished.reason})", field="study_id")
        changes = cmd.model_dump(exclude={"command_id"}, exclude_none=True)
        if not changes:
            raise Invalid("nothing to change: give parallelism, max_trials, max_wall_s or target", field="parallelism")
        if "max_trials" in changes and changes["max_trials"] < len(state.trials):
            raise Invalid(f"{len(state.trials)} trials were asked already", field="max_trials")
        return [ev.SettingsChanged(**changes)]
    if isinstance(cmd, Cancel):
        if state.finished is not None:
            raise Conflict(f"the study has finished ({state.finished.reason})", field="study_id")
        return [] if state.cancel_requested else [ev.CancelRequested(reason=cmd.reason)]
    if isinstance(cmd, Resume):
        if state.finished is None or state.finished.reason not in ("failed", "cancelled"):
            why = "it is running" if state.finished is None else f"it finished ({state.finished.reason})"
            raise Conflict(f"only a failed or cancelled study can be resumed; {why}", field="study_id")
        assert state.requested is not None
        return [
            ev.StudyResumed(
                study_id=state.requested.study_id, run_id=f"{state.requested.study_id}-r{state.resumes + 1}"
            )
        ]
    if isinstance(cmd, Finish):
        if state.finished is not None:
            return []
        return [ev.StudyFinished(**cmd.model_dump(exclude={"command_id"}))]
    raise Invalid(f"unknown command {type(cmd).__name__}")


STUDIES = Aggregate[Study]("study", Study, evolve, decide)
