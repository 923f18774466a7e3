"""Workflow scenarios run on both engines (the local runner and moto's Step Functions) with the
same expected outcome: retry with a new job, catch, choice, Map concurrency with one failing
item, Map with a tolerated failure, Parallel, child workflow, cancel.

Jobs are scripted by their hyperparameters: ``outcomes`` lists the final status of the 1st, 2nd...
job launched with the same hyperparameters (the last one repeats; ``InProgress`` never ends).
Both engines' fakes follow this rule (``outcome_for``); a failed job's reason is ``FAILURE``.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import Any

from domain.errors import NotFound
from domain.workflows import model as m
from runtime.ports import JobSpec, JobStatus

FAILURE = "scripted failure"


class Outcomes:
    """The k-th job with the same hyperparameters gets ``outcomes[k]`` (thread-safe)."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.launched: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def outcome_for(self, hyperparameters: dict[str, Any]) -> str:
        decoded = {k: _decode(v) for k, v in hyperparameters.items()}
        key = json.dumps(decoded, sort_keys=True)
        with self._lock:
            k = self.counts.get(key, 0)
            self.counts[key] = k + 1
            self.launched.append(decoded)
        outcomes = decoded.get("outcomes") or ["Completed"]
        return str(outcomes[min(k, len(outcomes) - 1)])


class ScriptedJobs:
    """A JobRunner whose jobs end at once with their scripted outcome (``InProgress``: until stopped)."""

    def __init__(self, outcomes: Outcomes | None = None) -> None:
        self.outcomes = outcomes or Outcomes()
        self.states: dict[str, str] = {}
        self.specs: dict[str, JobSpec] = {}
        self.stopped: list[str] = []

    def start(self, spec: JobSpec) -> str:
        self.specs[spec.name] = spec
        self.states[spec.name] = self.outcomes.outcome_for(spec.hyperparameters)
        return spec.name

    def running(self) -> list[str]:
        return [n for n, s in list(self.states.items()) if s == "InProgress"]

    def finish(self, name: str, state: str = "Completed") -> None:
        self.states[name] = state

    def describe(self, name: str) -> JobStatus:
        if name not in self.states:
            raise NotFound(f"no job {name}", field="name")
        state = self.states[name]
        return JobStatus(name, state, FAILURE if state == "Failed" else None, model_artifacts=f"/a/{name}")

    def stop(self, name: str) -> None:
        self.stopped.append(name)
        if self.states.get(name) == "InProgress":
            self.states[name] = "Stopped"

    def logs(self, name: str, *, start: int = 0) -> tuple[list[str], int]:
        return [], start


def script_sagemaker(monkeypatch: Any) -> Outcomes:
    """moto's SageMaker completes every job at once: ``describe_training_job`` answers the
    job's scripted outcome instead (fixed at its first describe)."""
    from moto.sagemaker.models import SageMakerModelBackend

    outcomes = Outcomes()
    assigned: dict[str, str] = {}
    original = SageMakerModelBackend.describe_training_job

    def describe(backend: Any, training_job_name: str) -> dict[str, Any]:
        resp = dict(original(backend, training_job_name))
        if training_job_name not in assigned:
            assigned[training_job_name] = outcomes.outcome_for(resp.get("HyperParameters") or {})
        resp["TrainingJobStatus"] = assigned[training_job_name]
        if assigned[training_job_name] == "Failed":
            resp["FailureReason"] = FAILURE
        return resp

    monkeypatch.setattr(SageMakerModelBackend, "describe_training_job", describe)
    return outcomes


def _decode(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def job(name: str, *, next: str | None = None, **kw: Any) -> m.JobTask:
    return m.JobTask(
        name=name,
        job=m.JobTemplate(
            program="train", name_prefix="scn", hyperparameters={"item": "$.id", "outcomes": "$.outcomes"}
        ),
        result_path="$.job",
        next=next,
        end=next is None,
        poll_seconds=0,
        **kw,
    )


def wf(name: str, *states: Any) -> m.Workflow:
    return m.Workflow(name=name, start_at=states[0].name, states=states)


RETRY = wf("scn-retry", job("Train", retry=(m.Retry(errors=(m.JOB_FAILED,), interval_s=1, max_attempts=2),)))
CATCH = wf(
    "scn-catch",
    job("Train", next="Done", catch=(m.Catch(errors=(m.JOB_FAILED,), next="Recover"),)),
    m.Pass(name="Recover", result=True, result_path="$.recovered", next="Done"),
    m.Succeed(name="Done"),
)
CHOICE = wf(
    "scn-choice",
    m.Choice(
        name="Size",
        choices=(m.ChoiceRule(variable="$.size", op="numeric_greater_than", value=10, next="Big"),),
        default="Small",
    ),
    m.Pass(name="Big", result="big", result_path="$.kind", end=True),
    m.Pass(name="Small", result="small", result_path="$.kind", end=True),
)
_ITEM = wf(
    "scn-item",
    job("Work", catch=(m.Catch(errors=(m.ALL_ERRORS,), next="ItemFailed"),)),
    m.Pass(name="ItemFailed", result="failed", result_path="$.job", end=True),
)
MAP = wf(
    "scn-map",
    m.MapState(name="Each", items_path="$.items", iterator=_ITEM, max_concurrency=2, result_path="$.results", end=True),
)
_BARE_ITEM = wf("scn-bare-item", job("Work"))
MAP_TOLERATED = wf(
    "scn-map-tolerated",
    m.MapState(
        name="Each",
        items_path="$.items",
        iterator=_BARE_ITEM,
        max_concurrency=3,
        tolerated_failure_percentage=34,
        result_path="$.results",
        end=True,
    ),
)
PARALLEL = wf(
    "scn-parallel",
    m.ParallelState(
        name="Both",
        branches=(
            wf("scn-left", m.Pass(name="Left", result="left", result_path="$.side", end=True)),
            wf("scn-right", job("Right")),
        ),
        result_path="$.both",
        end=True,
    ),
)
CHILD = wf(
    "scn-child",
    job("Work", next="Mark"),
    m.Pass(name="Mark", result="child", result_path="$.by", end=True),
)
PARENT = wf(
    "scn-parent",
    m.ChildWorkflow(
        name="Child",
        workflow="scn-child",
        parameters={"id": "$.id", "outcomes": "$.outcomes"},
        result_path="$.child",
        next="After",
    ),
    m.Pass(name="After", result=True, result_path="$.after", end=True),
)
CANCEL = wf("scn-cancel", job("Forever"))


@dataclass(frozen=True)
class Scenario:
    name: str
    workflow: m.Workflow
    input: dict[str, Any]
    status: str  # succeeded | failed | cancelled
    output: Any = None  # normalized (see ``normalize``); None: not compared
    jobs: int | None = None  # jobs launched
    children: tuple[m.Workflow, ...] = field(default=())
    cancel: bool = False
    moto: bool = True  # False: moto cannot run it (its rendered shape is tested instead)


def _items(*outcomes: str) -> list[dict[str, Any]]:
    return [{"id": i, "outcomes": [o]} for i, o in enumerate(outcomes)]


SCENARIOS = [
    Scenario(
        "retry-with-a-new-job",
        RETRY,
        {"id": 1, "outcomes": ["Failed", "Completed"]},
        "succeeded",
        {"id": 1, "outcomes": ["Failed", "Completed"], "job": "Completed"},
        jobs=2,
    ),
    Scenario(
        "catch",
        CATCH,
        {"id": 1, "outcomes": ["Failed"]},
        "succeeded",
        {"id": 1, "outcomes": ["Failed"], "error": {"Error": m.JOB_FAILED, "Cause": FAILURE}, "recovered": True},
        jobs=1,
    ),
    Scenario("choice-big", CHOICE, {"size": 11}, "succeeded", {"size": 11, "kind": "big"}, jobs=0),
    Scenario("choice-small", CHOICE, {"size": 3}, "succeeded", {"size": 3, "kind": "small"}, jobs=0),
    Scenario(
        "map-concurrency-one-failing-item",
        MAP,
        {"items": _items("Completed", "Failed", "Completed", "Completed")},
        "succeeded",
        {
            "items": _items("Completed", "Failed", "Completed", "Completed"),
            "results": [
                {"id": 0, "outcomes": ["Completed"], "job": "Completed"},
                {
                    "id": 1,
                    "outcomes": ["Failed"],
                    "error": {"Error": m.JOB_FAILED, "Cause": FAILURE},
                    "job": "failed",
                },
                {"id": 2, "outcomes": ["Completed"], "job": "Completed"},
                {"id": 3, "outcomes": ["Completed"], "job": "Completed"},
            ],
        },
        jobs=4,
    ),
    Scenario(
        "map-tolerated-failure",
        MAP_TOLERATED,
        {"items": _items("Completed", "Failed", "Completed")},
        "succeeded",
        {
            "items": _items("Completed", "Failed", "Completed"),
            "results": [
                {"id": 0, "outcomes": ["Completed"], "job": "Completed"},
                {"Error": m.JOB_FAILED, "Cause": FAILURE},
                {"id": 2, "outcomes": ["Completed"], "job": "Completed"},
            ],
        },
        jobs=3,
        moto=False,  # moto 5.2.5 parses ToleratedFailurePercentage but never applies it
    ),
    Scenario(
        "parallel",
        PARALLEL,
        {"id": 7, "outcomes": ["Completed"]},
        "succeeded",
        {
            "id": 7,
            "outcomes": ["Completed"],
            "both": [
                {"id": 7, "outcomes": ["Completed"], "side": "left"},
                {"id": 7, "outcomes": ["Completed"], "job": "Completed"},
            ],
        },
        jobs=1,
    ),
    Scenario(
        "child-workflow",
        PARENT,
        {"id": 3, "outcomes": ["Completed"], "extra": "parent only"},
        "succeeded",
        {
            "id": 3,
            "outcomes": ["Completed"],
            "extra": "parent only",
            "child": {"output": {"id": 3, "outcomes": ["Completed"], "job": "Completed", "by": "child"}},
            "after": True,
        },
        jobs=1,
        children=(CHILD,),
        # moto 5.2.5 hands startExecution's PascalCase parameters to botocore unconverted
        # (KeyError 'StateMachineArn' -> States.Runtime)
        moto=False,
    ),
    Scenario("cancel", CANCEL, {"id": 1, "outcomes": ["InProgress"]}, "cancelled", jobs=1, cancel=True),
]


def normalize(value: Any) -> Any:
    """A job's result ``{"name", "status", "model_artifacts"}`` -> its status (names and
    artifact locations differ between engines)."""
    if isinstance(value, dict):
        if set(value) == {"name", "status", "model_artifacts"}:
            return value["status"]
        return {k: normalize(v) for k, v in value.items()}
    if isinstance(value, list):
        return [normalize(v) for v in value]
    return value


def all_scenario_workflows() -> dict[str, m.Workflow]:
    out: dict[str, m.Workflow] = {}
    for s in SCENARIOS:
        for w in (s.workflow, *s.children):
            out[w.name] = w
    return out
