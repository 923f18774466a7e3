"""Workflow definitions as data.

A :class:`Workflow` is a named graph of states, close to Amazon States Language so that one
definition renders to ASL (``runtime.workflows.asl``) and runs in the local runner
(``runtime.adapters.local_workflows``) with the same meaning:

- ``JobTask`` runs a job (a ``JobTemplate``: program, hyperparameters, channels, instance) and
  waits for it; ``StepTask`` calls a named step function; ``RecordTask`` appends an event to the
  run's stream. All three take ``retry`` and ``catch`` policies.
- ``Choice``, ``Wait``, ``Pass``, ``Succeed``, ``Fail``, ``MapState`` (a sub-workflow per item,
  ``max_concurrency`` at once, ``tolerated_failure_percentage`` of failed items allowed) and
  ``ParallelState`` (branches at once) mirror their ASL namesakes; ``ChildWorkflow`` runs another
  workflow as a child run and waits for it (``states:startExecution.sync:2`` on AWS).

What happens next (retry, catch, choice, next or end, fan-in) is ``domain.workflows.interpreter``.

Data flow: every state reads the whole run document and writes its result at ``result_path``
(``None`` = discard). Parameter values that are paths (``"$.a.b"``) are references.

Construction validates the graph: unknown next state, unreachable state, a state with neither
``next`` nor ``end``, duplicate names; each raises ``domain.errors.Invalid`` naming the state.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from domain.errors import Invalid
from domain.workflows.paths import check_path, is_reference

ALL_ERRORS = "States.ALL"
TASK_FAILED = "States.TaskFailed"
TIMEOUT = "States.Timeout"
JOB_FAILED = "TLM.JobFailed"
JOB_STOPPED = "TLM.JobStopped"
JOB_LOST = "TLM.JobLost"
TOLERANCE_EXCEEDED = "States.ExceedToleratedFailureThreshold"

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _-]{0,79}$")
_JOB_PREFIX = re.compile(r"^[a-z0-9](-?[a-z0-9])*$")
_PLACEHOLDER = re.compile(r"^\$\{[A-Za-z0-9_]+\}$")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Retry(_Frozen):
    """Retry a failed task: ASL's Retrier. ``max_attempts`` counts retries after the first try."""

    errors: tuple[str, ...] = (ALL_ERRORS,)
    interval_s: int = Field(default=1, ge=0)
    max_attempts: int = Field(default=2, ge=0, le=99)
    backoff: float = Field(default=2.0, ge=1.0)

    def delay_s(self, retry_number: int) -> float:
        """Delay before retry number ``retry_number`` (1-based)."""
        return float(self.interval_s * self.backoff ** (retry_number - 1))


class Catch(_Frozen):
    """On a matching error go to ``next`` with ``{"Error", "Cause"}`` at ``result_path``."""

    errors: tuple[str, ...] = (ALL_ERRORS,)
    next: str
    result_path: str = "$.error"


def error_matches(patterns: tuple[str, ...], error: str) -> bool:
    """ASL matching: States.ALL matches anything; States.TaskFailed anything but a timeout."""
    if ALL_ERRORS in patterns or error in patterns:
        return True
    return TASK_FAILED in patterns and error != TIMEOUT


class JobTemplate(_Frozen):
    """A job to launch: becomes a ``runtime.ports.JobSpec`` locally and a CreateTrainingJob
    request on AWS. String fields accept a path (``$.x``) or an infra placeholder (``${X}``)."""

    program: str = Field(pattern=r"^[a-z_]+$")
    name_prefix: str = Field(max_length=26)  # + "-" + uuid4 (36) <= 63, SageMaker's limit
    # a path to the job's name in the input instead of <prefix>-<uuid> (a name fixed when the job was
    # asked for, so it is addressed before it exists); such a job task cannot retry (names are unique)
    name: str | None = Field(default=None, pattern=r"^\$\.[A-Za-z0-9_.]+$")
    hyperparameters: dict[str, Any] = Field(default_factory=dict)
    channels: dict[str, str] = Field(default_factory=dict)
    output_uri: str = "${ArtifactsUri}"
    checkpoint_uri: str | None = None
    instance_type: str = "ml.m5.xlarge"
    instance_count: int = Field(default=1, ge=1)
    volume_gb: int = Field(default=30, ge=1)
    use_spot: bool = False
    max_runtime_s: int = Field(default=3600, ge=1)
    max_wait_s: int | None = None
    environment: dict[str, str] = Field(default_factory=dict)
    metric_definitions: tuple[dict[str, str], ...] = ()

    @model_validator(mode="after")
    def _check(self) -> JobTemplate:
        if not _JOB_PREFIX.match(self.name_prefix):
            raise Invalid("job name prefix must be lower-case letters, digits and '-'", field="name_prefix")
        if self.use_spot and (self.max_wait_s is None or self.max_wait_s < self.max_runtime_s):
            raise Invalid("spot jobs need max_wait_s >= max_runtime_s", field="max_wait_s")
        return self


class _Base(_Frozen):
    name: str
    comment: str = ""

    @model_validator(mode="after")
    def _check_name(self) -> _Base:
        if not _NAME.match(self.name):
            raise Invalid(f"bad state name {self.name!r}", field="name")
        return self


class _Flow(_Base):
    next: str | None = None
    end: bool = False


class _Task(_Flow):
    result_path: str | None = "$"
    retry: tuple[Retry, ...] = ()
    catch: tuple[Catch, ...] = ()
    timeout_s: int | None = Field(default=None, ge=1)


class JobTask(_Task):
    type: Literal["job"] = "job"
    job: JobTemplate
    poll_seconds: int = Field(default=60, ge=0)

    @model_validator(mode="after")
    def _check_fixed_name(self) -> JobTask:
        if self.job.name is not None and self.retry:
            raise Invalid("a job with a fixed name cannot be retried (job names are unique)", field="retry")
        return self


class StepTask(_Task):
    """A named step function (``functions/steps`` on AWS, a registered callable locally).
    ``parameters`` None passes the whole document."""

    type: Literal["step"] = "step"
    function: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    parameters: dict[str, Any] | None = None


class RecordTask(_Task):
    """Append an event (a registered type) to the run's stream ``workflowrun-<run id>``."""

    type: Literal["record"] = "record"
    event_type: str
    data: dict[str, Any] = Field(default_factory=dict)
    result_path: str | None = None


ChoiceOp = Literal[
    "string_equals",
    "numeric_equals",
    "numeric_less_than",
    "numeric_less_than_equals",
    "numeric_greater_than",
    "numeric_greater_than_equals",
    "boolean_equals",
    "is_present",
]


class ChoiceRule(_Frozen):
    variable: str
    op: ChoiceOp
    value: Any
    next: str


class Choice(_Base):
    type: Literal["choice"] = "choice"
    choices: tuple[ChoiceRule, ...]
    default: str | None = None


class Wait(_Flow):
    type: Literal["wait"] = "wait"
    seconds: int | None = Field(default=None, ge=0)
    seconds_path: str | None = None


class Pass(_Flow):
    type: Literal["pass"] = "pass"
    result: Any = None
    parameters: dict[str, Any] | None = None
    result_path: str | None = "$"


class Succeed(_Base):
    type: Literal["succeed"] = "succeed"


class Fail(_Base):
    type: Literal["fail"] = "fail"
    error: str
    cause: str = ""


class MapState(_Task):
    """Run ``iterator`` once per item of the list at ``items_path``; the result is the list of
    the iterations' outputs."""

    type: Literal["map"] = "map"
    items_path: str
    iterator: Workflow
    max_concurrency: int = Field(default=1, ge=0)  # 0: all items at once
    tolerated_failure_percentage: float = Field(default=0, ge=0, le=100)


class ParallelState(_Task):
    """Run every branch on the whole document at once; the result is the list of their outputs
    (in branch order). One failed branch fails the state."""

    type: Literal["parallel"] = "parallel"
    branches: tuple[Workflow, ...] = Field(min_length=1)


class ChildWorkflow(_Task):
    """Run workflow ``workflow`` as a child run (linked to this run) and wait for it; the result
    is ``{"output": <the child's output>}``. A failed or cancelled child is ``States.TaskFailed``.
    ``parameters`` None passes the whole document as the child's input."""

    type: Literal["child"] = "child"
    workflow: str = Field(pattern=r"^[a-z][a-z0-9-]{0,62}$")
    parameters: dict[str, Any] | None = None


State = Annotated[
    JobTask | StepTask | RecordTask | Choice | Wait | Pass | Succeed | Fail | MapState | ParallelState | ChildWorkflow,
    Field(discriminator="type"),
]


def _targets(state: Any) -> list[tuple[str, str]]:
    """(field, target state) pairs of every transition out of ``state``."""
    out: list[tuple[str, str]] = []
    if isinstance(state, _Flow) and state.next is not None:
        out.append(("next", state.next))
    if isinstance(state, _Task):
        out += [(f"catch[{i}].next", c.next) for i, c in enumerate(state.catch)]
    if isinstance(state, Choice):
        out += [(f"choices[{i}].next", r.next) for i, r in enumerate(state.choices)]
        if state.default is not None:
            out.append(("default", state.default))
    return out


def _check_paths(state: Any) -> None:
    where = f"states.{state.name}"
    for attr in ("result_path", "items_path", "seconds_path"):
        value = getattr(state, attr, None)
        if value is not None:
            check_path(value, field=f"{where}.{attr}")
    for i, c in enumerate(getattr(state, "catch", ())):
        check_path(c.result_path, field=f"{where}.catch[{i}].result_path")
    if isinstance(state, Choice):
        for i, r in enumerate(state.choices):
            check_path(r.variable, field=f"{where}.choices[{i}].variable")


class Workflow(_Frozen):
    name: str = Field(pattern=r"^[a-z][a-z0-9-]{0,62}$")
    start_at: str
    states: tuple[State, ...]
    comment: str = ""
    timeout_s: int | None = Field(default=None, ge=1)

    def state(self, name: str) -> Any:
        for s in self.states:
            if s.name == name:
                return s
        raise Invalid(f"workflow {self.name!r} has no state {name!r}", field="state")

    @model_validator(mode="after")
    def _validate_graph(self) -> Workflow:
        names: dict[str, Any] = {}
        for s in self.states:
            if s.name in names:
                raise Invalid(f"state {s.name!r} is defined twice", field=f"states.{s.name}")
            names[s.name] = s
        if self.start_at not in names:
            raise Invalid(f"start state {self.start_at!r} is not a state", field="start_at")
        for s in self.states:
            where = f"states.{s.name}"
            _check_paths(s)
            if isinstance(s, _Flow) and (s.next is None) == (not s.end):
                raise Invalid(
                    f"state {s.name!r} needs exactly one of 'next' or 'end'"
                    + (" (missing end)" if s.next is None else ""),
                    field=f"{where}.next",
                )
            if isinstance(s, Choice) and not s.choices:
                raise Invalid(f"choice state {s.name!r} has no rules", field=f"{where}.choices")
            if isinstance(s, Wait) and (s.seconds is None) == (s.seconds_path is None):
                raise Invalid(f"wait state {s.name!r} needs seconds or seconds_path", field=where)
            if isinstance(s, Pass) and s.parameters is not None and s.result is not None:
                raise Invalid(f"pass state {s.name!r}: result or parameters, not both", field=where)
            for field, target in _targets(s):
                if target not in names:
                    raise Invalid(
                        f"state {s.name!r} goes to unknown state {target!r}", field=f"{where}.{field}"
                    )
        seen = {self.start_at}
        todo = [self.start_at]
        while todo:
            for _, target in _targets(names[todo.pop()]):
                if target not in seen:
                    seen.add(target)
                    todo.append(target)
        for s in self.states:
            if s.name not in seen:
                raise Invalid(
                    f"state {s.name!r} is unreachable from {self.start_at!r}", field=f"states.{s.name}"
                )
        return self


MapState.model_rebuild()
ParallelState.model_rebuild()


def references(template: Any) -> list[str]:
    """Every reference in a parameters template (for checks and docs)."""
    if is_reference(template):
        return [template]
    if isinstance(template, dict):
        return [r for v in template.values() for r in references(v)]
    if isinstance(template, list):
        return [r for v in template for r in references(v)]
    return []


def is_placeholder(value: object) -> bool:
    """``${Name}``: a value infra substitutes when it deploys the state machine."""
    return isinstance(value, str) and bool(_PLACEHOLDER.match(value))


class StepError(Exception):
    """A task failed with a named error (what Retry and Catch match on) and a cause. Step
    functions raise it to choose the error name; any other exception is named by its class."""

    def __init__(self, error: str, cause: str = "") -> None:
        super().__init__(f"{error}: {cause}" if cause else error)
        self.error = error
        self.cause = cause


def choice_matches(rule: ChoiceRule, value_present: bool, value: Any) -> bool:
    """Does ``rule`` hold for the value at its variable (pure; the local runner's Choice)."""
    if rule.op == "is_present":
        return value_present == bool(rule.value)
    if not value_present:
        return False
    if rule.op == "string_equals":
        return isinstance(value, str) and value == rule.value
    if rule.op == "boolean_equals":
        return isinstance(value, bool) and value == rule.value
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    compare = {
        "numeric_equals": value == rule.value,
        "numeric_less_than": value < rule.value,
        "numeric_less_than_equals": value <= rule.value,
        "numeric_greater_than": value > rule.value,
        "numeric_greater_than_equals": value >= rule.value,
    }
    return bool(compare[rule.op])
