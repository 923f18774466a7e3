"""Render a ``domain.workflows.model.Workflow`` to Amazon States Language.

- ``JobTask``: by default a SageMaker *create + poll* loop (``createTrainingJob`` request-response,
  ``Wait``, ``aws-sdk:sagemaker:describeTrainingJob``, ``Choice`` on the status), wrapped in a
  one-branch ``Parallel`` so that a failed or stopped job raises ``TLM.JobFailed`` /
  ``TLM.JobStopped`` that the task's Retry and Catch handle, and so that a retry starts a new job
  under a new name (``<prefix>-<uuid>``). With ``sync_jobs=True`` it is one
  ``createTrainingJob.sync`` task instead (what a deployed state machine may prefer; Step Functions
  then waits and stops the job on abort); TLM's job errors map to ``States.TaskFailed`` there.
- ``StepTask``: a Lambda task whose resource is ``${Step_<function>}``.
- ``MapState``: an INLINE ``Map``; with ``tolerated_failure_percentage`` a DISTRIBUTED one (child
  executions, ``ToleratedFailurePercentage``: Step Functions allows tolerance in that mode only).
- ``ParallelState``: a ``Parallel`` with one branch per sub-workflow.
- ``ChildWorkflow``: ``states:startExecution.sync:2`` on the machine ``${StateMachine_<workflow>}``
  (``-`` as ``_``), the child's output at ``$.output`` of the result, as the local runner gives it;
  with ``parameters`` the child's input carries ``AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID``
  (its parent's execution ARN), which the run log records as the child's ``parent_run_id``.
- ``RecordTask``: appends an event item to the events table: a ``Pass`` builds data and metadata,
  a DynamoDB ``UpdateItem`` takes the next version from a per-stream sequence item
  (``seq#workflowrun-<execution>``, kind ``sequence``, which the projector's kind filter skips) and
  a conditional ``PutItem`` writes the event (``attribute_not_exists``: never overwrites).
  On AWS the state machine is then the only writer of its ``workflowrun-<execution>`` stream.

Placeholders ``${Name}`` (tables, role, image, Lambda ARNs) stay in the output unless
``substitutions`` fills them; CDK passes them as ``definitionSubstitutions``. ``placeholders()``
lists what a rendered definition needs.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from domain.errors import Invalid
from domain.workflows import model as m
from runtime.workflows.asl_tasks import (  # noqa: F401  (re-exported: the rendering's constants and templates)
    EVENTS_TABLE,
    KIND_SEQUENCE,
    PROGRAM_ENV,
    ROLE_ARN,
    SEQUENCE_PREFIX,
    TRAINING_IMAGE,
    flow,
    job_states,
    params,
    policies,
    record_states,
    training_job_request,
)
from runtime.workflows.run_status import STARTED_BY

_PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_]+)\}")
_CHOICE_KEYS = {
    "string_equals": "StringEquals",
    "numeric_equals": "NumericEquals",
    "numeric_less_than": "NumericLessThan",
    "numeric_less_than_equals": "NumericLessThanEquals",
    "numeric_greater_than": "NumericGreaterThan",
    "numeric_greater_than_equals": "NumericGreaterThanEquals",
    "boolean_equals": "BooleanEquals",
    "is_present": "IsPresent",
}


def step_placeholder(function: str) -> str:
    return "${Step_" + function + "}"


def child_placeholder(workflow: str) -> str:
    """The state machine ARN a ChildWorkflow state starts (infra substitutes it)."""
    return "${StateMachine_" + workflow.replace("-", "_") + "}"


def _state(s: Any, *, sync: bool, poll_seconds: int | None) -> dict[str, Any]:
    if isinstance(s, m.JobTask):
        return job_states(s, sync=sync, poll_seconds=poll_seconds)
    if isinstance(s, m.RecordTask):
        return record_states(s)
    if isinstance(s, m.StepTask):
        out: dict[str, Any] = {"Type": "Task", "Resource": step_placeholder(s.function)}
        if s.parameters is not None:
            out["Parameters"] = params(s.parameters)
        out["ResultPath"] = s.result_path
        if s.timeout_s:
            out["TimeoutSeconds"] = s.timeout_s
        return {s.name: {**out, **policies(s), **flow(s)}}
    if isinstance(s, m.Pass):
        out = {"Type": "Pass"}
        if s.parameters is not None:
            out["Parameters"] = params(s.parameters)
        elif s.result is not None:
            out["Result"] = s.result
        out["ResultPath"] = s.result_path
        return {s.name: {**out, **flow(s)}}
    if isinstance(s, m.Wait):
        out = {"Type": "Wait"}
        out.update({"Seconds": s.seconds} if s.seconds is not None else {"SecondsPath": s.seconds_path})
        return {s.name: {**out, **flow(s)}}
    if isinstance(s, m.Choice):
        out = {
            "Type": "Choice",
            "Choices": [{"Variable": r.variable, _CHOICE_KEYS[r.op]: r.value, "Next": r.next} for r in s.choices],
        }
        if s.default is not None:
            out["Default"] = s.default
        return {s.name: out}
    if isinstance(s, m.Succeed):
        return {s.name: {"Type": "Succeed"}}
    if isinstance(s, m.Fail):
        return {s.name: {"Type": "Fail", "Error": s.error, "Cause": s.cause}}
    if isinstance(s, m.MapState):
        inner = _machine(s.iterator, sync=sync, poll_seconds=poll_seconds)
        config: dict[str, Any] = {"Mode": "INLINE"}
        tolerance: dict[str, Any] = {}
        if s.tolerated_failure_percentage:
            config = {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}
            tolerance = {"ToleratedFailurePercentage": s.tolerated_failure_percentage}
        out = {
            "Type": "Map",
            "ItemsPath": s.items_path,
            "MaxConcurrency": s.max_concurrency,
            "ItemProcessor": {"ProcessorConfig": config, "StartAt": inner["StartAt"], "States": inner["States"]},
            **tolerance,
            "ResultPath": s.result_path,
        }
        return {s.name: {**out, **policies(s), **flow(s)}}
    if isinstance(s, m.ParallelState):
        out = {
            "Type": "Parallel",
            "Branches": [_machine(b, sync=sync, poll_seconds=poll_seconds) for b in s.branches],
            "ResultPath": s.result_path,
        }
        return {s.name: {**out, **policies(s), **flow(s)}}
    if isinstance(s, m.ChildWorkflow):
        # the child's input names its parent execution (Step Functions' own key: the console links the
        # two, and the run-status Lambda records it as the child's parent_run_id); a child given the
        # whole document cannot carry it (ASL cannot add a key to "$")
        child_input = (
            {"Input.$": "$"}
            if s.parameters is None
            else {"Input": {**params(s.parameters), f"{STARTED_BY}.$": "$$.Execution.Id"}}
        )
        out = {
            "Type": "Task",
            "Resource": "arn:aws:states:::states:startExecution.sync:2",
            "Parameters": {"StateMachineArn": child_placeholder(s.workflow), **child_input},
            "ResultSelector": {"output.$": "$.Output"},
            "ResultPath": s.result_path,
        }
        if s.timeout_s:
            out["TimeoutSeconds"] = s.timeout_s
        return {s.name: {**out, **policies(s), **flow(s)}}
    raise Invalid(f"cannot render state {s!r}", field="states")


def _machine(defn: m.Workflow, *, sync: bool, poll_seconds: int | None) -> dict[str, Any]:
    states: dict[str, Any] = {}
    for s in defn.states:
        for name, body in _state(s, sync=sync, poll_seconds=poll_seconds).items():
            if name in states:
                raise Invalid(f"rendered state name {name!r} clashes", field=f"states.{name}")
            states[name] = body
    return {"StartAt": defn.start_at, "States": states}


def render(
    defn: m.Workflow,
    *,
    sync_jobs: bool = False,
    substitutions: Mapping[str, str] | None = None,
    poll_seconds: int | None = None,
) -> dict[str, Any]:
    """The state machine as a dict. ``poll_seconds`` overrides every job's poll interval."""
    asl: dict[str, Any] = {
        "Comment": defn.comment or f"TLM workflow {defn.name}",
        **_machine(defn, sync=sync_jobs, poll_seconds=poll_seconds),
    }
    if defn.timeout_s:
        asl["TimeoutSeconds"] = defn.timeout_s
    return substitute(asl, substitutions) if substitutions else asl


def render_json(defn: m.Workflow, **kwargs: Any) -> str:
    return json.dumps(render(defn, **kwargs), indent=2, ensure_ascii=False)


def substitute(value: Any, substitutions: Mapping[str, str]) -> Any:
    if isinstance(value, str):
        return _PLACEHOLDER.sub(lambda mt: substitutions.get(mt.group(1), mt.group(0)), value)
    if isinstance(value, dict):
        return {k: substitute(v, substitutions) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, substitutions) for v in value]
    return value


def placeholders(value: Any) -> set[str]:
    """Names of every ``${Name}`` left in a rendered definition."""
    if isinstance(value, str):
        return set(_PLACEHOLDER.findall(value))
    if isinstance(value, dict):
        return set().union(*(placeholders(v) for v in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(placeholders(v) for v in value)) if value else set()
    return set()
