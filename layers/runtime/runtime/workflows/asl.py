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
  (``-`` as ``_``), the child's output at ``$.output`` of the result, as the local runner gives it.
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
from domain.events import event_class
from domain.workflows import events as _events  # noqa: F401  (registers the event types)
from domain.workflows import model as m
from domain.workflows.paths import is_reference
from runtime.adapters.dynamodb import keys
from runtime.adapters.sagemaker.requests import job_metric_definitions

SEQUENCE_PREFIX = "seq#"  # per-stream version counter items in the events table
KIND_SEQUENCE = "sequence"
PROGRAM_ENV = "TLM_JOB_PROGRAM"  # which jobs/ program the container runs
EVENTS_TABLE = "${EventsTable}"
ROLE_ARN = "${SageMakerRoleArn}"
TRAINING_IMAGE = "${TrainingImage}"
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
_SYNC_ERRORS = {m.JOB_FAILED: m.TASK_FAILED, m.JOB_STOPPED: m.TASK_FAILED, m.JOB_LOST: m.TASK_FAILED}


def step_placeholder(function: str) -> str:
    return "${Step_" + function + "}"


def child_placeholder(workflow: str) -> str:
    """The state machine ARN a ChildWorkflow state starts (infra substitutes it)."""
    return "${StateMachine_" + workflow.replace("-", "_") + "}"


def params(template: Mapping[str, Any]) -> dict[str, Any]:
    """Parameters template -> ASL payload template (``"key.$"`` for references)."""
    out: dict[str, Any] = {}
    for key, value in template.items():
        if is_reference(value):
            out[f"{key}.$"] = value
        elif isinstance(value, Mapping):
            out[key] = params(value)
        elif isinstance(value, list):
            out[key] = [params(v) if isinstance(v, Mapping) else _literal(v, key) for v in value]
        else:
            out[key] = value
    return out


def _literal(value: Any, key: str) -> Any:
    if is_reference(value):
        raise Invalid("a reference inside a list cannot be rendered to ASL", field=key)
    return value


def _field(name: str, value: Any) -> dict[str, Any]:
    return {f"{name}.$": value} if is_reference(value) else {name: value}


def _string_map(values: Mapping[str, Any]) -> dict[str, Any]:
    """SageMaker string maps (hyperparameters, environment): every value a string; references
    JSON-encoded (``jobs.contract.hp`` decodes JSON-looking values)."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        if is_reference(value):
            out[f"{key}.$"] = f"States.JsonToString({value})"
        else:
            out[key] = value if isinstance(value, str) else json.dumps(value)
    return out


def training_job_request(job: m.JobTemplate) -> dict[str, Any]:
    """CreateTrainingJob parameters (without the job name)."""
    algorithm: dict[str, Any] = {"TrainingImage": TRAINING_IMAGE, "TrainingInputMode": "File"}
    # every TLM job logs the same metric lines: SageMaker records them for the job (FinalMetricDataList)
    algorithm["MetricDefinitions"] = [dict(d) for d in (job.metric_definitions or job_metric_definitions())]
    stopping: dict[str, Any] = {"MaxRuntimeInSeconds": job.max_runtime_s}
    if job.use_spot and job.max_wait_s is not None:
        stopping["MaxWaitTimeInSeconds"] = job.max_wait_s
    request: dict[str, Any] = {
        "AlgorithmSpecification": algorithm,
        "RoleArn": ROLE_ARN,
        "HyperParameters": _string_map(job.hyperparameters),
        "OutputDataConfig": _field("S3OutputPath", job.output_uri),
        "ResourceConfig": {
            **_field("InstanceType", job.instance_type),
            "InstanceCount": job.instance_count,
            "VolumeSizeInGB": job.volume_gb,
        },
        "StoppingCondition": stopping,
        "Environment": _string_map({PROGRAM_ENV: job.program, **job.environment}),
        "EnableManagedSpotTraining": job.use_spot,
    }
    if job.channels:
        request["InputDataConfig"] = [
            {
                "ChannelName": name,
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "S3Prefix",
                        "S3DataDistributionType": "FullyReplicated",
                        **_field("S3Uri", uri),
                    }
                },
            }
            for name, uri in job.channels.items()
        ]
    if job.checkpoint_uri is not None:
        request["CheckpointConfig"] = _field("S3Uri", job.checkpoint_uri)
    return request


def _retry(policies: tuple[m.Retry, ...], *, sync: bool = False) -> list[dict[str, Any]]:
    out = []
    for r in policies:
        errors = list(dict.fromkeys(_SYNC_ERRORS.get(e, e) if sync else e for e in r.errors))
        out.append(
            {
                "ErrorEquals": errors,
                "IntervalSeconds": max(1, r.interval_s),
                "MaxAttempts": r.max_attempts,
                "BackoffRate": r.backoff,
            }
        )
    return out


def _catch(policies: tuple[m.Catch, ...], *, sync: bool = False) -> list[dict[str, Any]]:
    return [
        {
            "ErrorEquals": list(dict.fromkeys(_SYNC_ERRORS.get(e, e) if sync else e for e in c.errors)),
            "Next": c.next,
            "ResultPath": c.result_path,
        }
        for c in policies
    ]


def _flow(state: Any) -> dict[str, Any]:
    return {"End": True} if state.end else {"Next": state.next}


def _policies(state: Any, *, sync: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if state.retry:
        out["Retry"] = _retry(state.retry, sync=sync)
    if state.catch:
        out["Catch"] = _catch(state.catch, sync=sync)
    return out


_JOB_RESULT = {
    "name.$": "$.TrainingJobName",
    "status.$": "$.TrainingJobStatus",
    "model_artifacts.$": "$.ModelArtifacts.S3ModelArtifacts",
}
_DESCRIBE = "arn:aws:states:::aws-sdk:sagemaker:describeTrainingJob"


def _job_states(s: m.JobTask, *, sync: bool, poll_seconds: int | None) -> dict[str, Any]:
    job_name = f"States.Format('{s.job.name_prefix}-{{}}', States.UUID())"
    request = training_job_request(s.job)
    if sync:
        state: dict[str, Any] = {
            "Type": "Task",
            "Resource": "arn:aws:states:::sagemaker:createTrainingJob.sync",
            "Parameters": {"TrainingJobName.$": job_name, **request},
            "ResultSelector": _JOB_RESULT,
            "ResultPath": s.result_path,
        }
        if s.timeout_s:
            state["TimeoutSeconds"] = s.timeout_s
        return {s.name: {**state, **_policies(s, sync=True), **_flow(s)}}
    n = s.name
    by_name = {"TrainingJobName.$": "$.__job.name"}
    branch = {
        "StartAt": f"{n}: name",
        "States": {
            f"{n}: name": {
                "Type": "Pass",
                "Parameters": {"name.$": job_name},
                "ResultPath": "$.__job",
                "Next": f"{n}: create",
            },
            f"{n}: create": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sagemaker:createTrainingJob",
                "Parameters": {**by_name, **request},
                "ResultPath": None,
                "Next": f"{n}: wait",
            },
            f"{n}: wait": {
                "Type": "Wait",
                "Seconds": s.poll_seconds if poll_seconds is None else poll_seconds,
                "Next": f"{n}: describe",
            },
            f"{n}: describe": {
                "Type": "Task",
                "Resource": _DESCRIBE,
                "Parameters": by_name,
                "ResultSelector": {"status.$": "$.TrainingJobStatus"},
                "ResultPath": "$.__job.poll",
                "Next": f"{n}: check",
            },
            f"{n}: check": {
                "Type": "Choice",
                "Choices": [
                    {"Variable": "$.__job.poll.status", "StringEquals": "Completed", "Next": f"{n}: collect"},
                    {"Variable": "$.__job.poll.status", "StringEquals": "Failed", "Next": f"{n}: why"},
                    {"Variable": "$.__job.poll.status", "StringEquals": "Stopped", "Next": f"{n}: stopped"},
                ],
                "Default": f"{n}: wait",
            },
            f"{n}: collect": {
                "Type": "Task",
                "Resource": _DESCRIBE,
                "Parameters": by_name,
                "ResultSelector": _JOB_RESULT,
                "ResultPath": "$",
                "End": True,
            },
            f"{n}: why": {
                "Type": "Task",
                "Resource": _DESCRIBE,
                "Parameters": by_name,
                "ResultSelector": {"reason.$": "$.FailureReason"},
                "ResultPath": "$.__job.why",
                "Next": f"{n}: failed",
            },
            f"{n}: failed": {"Type": "Fail", "Error": m.JOB_FAILED, "CausePath": "$.__job.why.reason"},
            f"{n}: stopped": {"Type": "Fail", "Error": m.JOB_STOPPED, "Cause": "the job was stopped"},
        },
    }
    state = {
        "Type": "Parallel",
        "Branches": [branch],
        # the branch's output, unwrapped; ArrayGetItem over [*] because moto's engine turns
        # "$[0].x" into a one-item list (AWS gives the scalar either way)
        "ResultSelector": {
            f"{k}.$": f"States.ArrayGetItem($[*].{k}, 0)" for k in ("name", "status", "model_artifacts")
        },
        "ResultPath": s.result_path,
    }
    return {n: {**state, **_policies(s), **_flow(s)}}


def _record_states(s: m.RecordTask) -> dict[str, Any]:
    cls = event_class(s.event_type)  # unknown event type: Invalid at render time
    n = s.name
    stream = "States.Format('workflowrun-{}', $$.Execution.Name)"
    common = _policies(s)
    return {
        n: {
            "Type": "Pass",
            "Parameters": {
                "data": params(s.data),
                "metadata": {
                    "actor": "stepfunctions",
                    "occurred_at.$": "$$.State.EnteredTime",
                    "correlation_id.$": "$$.Execution.Name",
                    "reason": f"recorded by state {n}",
                },
            },
            "ResultPath": "$.__record",
            "Next": f"{n}: sequence",
        },
        f"{n}: sequence": {
            "Type": "Task",
            "Resource": "arn:aws:states:::dynamodb:updateItem",
            "Parameters": {
                "TableName": EVENTS_TABLE,
                "Key": {
                    keys.EVENTS_PK: {
                        "S.$": f"States.Format('{SEQUENCE_PREFIX}workflowrun-{{}}', $$.Execution.Name)"
                    },
                    keys.EVENTS_SK: {"N": "0"},
                },
                "UpdateExpression": "ADD #seq :one SET #kind = :kind",
                "ExpressionAttributeNames": {"#seq": "seq", "#kind": keys.KIND},
                "ExpressionAttributeValues": {":one": {"N": "1"}, ":kind": {"S": KIND_SEQUENCE}},
                "ReturnValues": "UPDATED_NEW",
            },
            "ResultSelector": {"version.$": "$.Attributes.seq.N"},
            "ResultPath": "$.__record.seq",
            **common,
            "Next": f"{n}: put",
        },
        f"{n}: put": {
            "Type": "Task",
            "Resource": "arn:aws:states:::dynamodb:putItem",
            "Parameters": {
                "TableName": EVENTS_TABLE,
                "Item": {
                    keys.EVENTS_PK: {"S.$": stream},
                    keys.EVENTS_SK: {"N.$": "$.__record.seq.version"},
                    keys.KIND: {"S": keys.KIND_EVENT},
                    "type": {"S": cls.event_type},
                    "schema_version": {"N": str(cls.schema_version)},
                    "data": {"S.$": "States.JsonToString($.__record.data)"},
                    "metadata": {"S.$": "States.JsonToString($.__record.metadata)"},
                    "recorded_at": {"S.$": "$$.State.EnteredTime"},
                },
                "ConditionExpression": "attribute_not_exists(#v)",
                "ExpressionAttributeNames": {"#v": keys.EVENTS_SK},
            },
            "ResultPath": None,
            **common,
            **_flow(s),
        },
    }


def _state(s: Any, *, sync: bool, poll_seconds: int | None) -> dict[str, Any]:
    if isinstance(s, m.JobTask):
        return _job_states(s, sync=sync, poll_seconds=poll_seconds)
    if isinstance(s, m.RecordTask):
        return _record_states(s)
    if isinstance(s, m.StepTask):
        out: dict[str, Any] = {"Type": "Task", "Resource": step_placeholder(s.function)}
        if s.parameters is not None:
            out["Parameters"] = params(s.parameters)
        out["ResultPath"] = s.result_path
        if s.timeout_s:
            out["TimeoutSeconds"] = s.timeout_s
        return {s.name: {**out, **_policies(s), **_flow(s)}}
    if isinstance(s, m.Pass):
        out = {"Type": "Pass"}
        if s.parameters is not None:
            out["Parameters"] = params(s.parameters)
        elif s.result is not None:
            out["Result"] = s.result
        out["ResultPath"] = s.result_path
        return {s.name: {**out, **_flow(s)}}
    if isinstance(s, m.Wait):
        out = {"Type": "Wait"}
        out.update({"Seconds": s.seconds} if s.seconds is not None else {"SecondsPath": s.seconds_path})
        return {s.name: {**out, **_flow(s)}}
    if isinstance(s, m.Choice):
        out = {
            "Type": "Choice",
            "Choices": [
                {"Variable": r.variable, _CHOICE_KEYS[r.op]: r.value, "Next": r.next} for r in s.choices
            ],
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
        return {s.name: {**out, **_policies(s), **_flow(s)}}
    if isinstance(s, m.ParallelState):
        out = {
            "Type": "Parallel",
            "Branches": [_machine(b, sync=sync, poll_seconds=poll_seconds) for b in s.branches],
            "ResultPath": s.result_path,
        }
        return {s.name: {**out, **_policies(s), **_flow(s)}}
    if isinstance(s, m.ChildWorkflow):
        child_input = {"Input.$": "$"} if s.parameters is None else {"Input": params(s.parameters)}
        out = {
            "Type": "Task",
            "Resource": "arn:aws:states:::states:startExecution.sync:2",
            "Parameters": {"StateMachineArn": child_placeholder(s.workflow), **child_input},
            "ResultSelector": {"output.$": "$.Output"},
            "ResultPath": s.result_path,
        }
        if s.timeout_s:
            out["TimeoutSeconds"] = s.timeout_s
        return {s.name: {**out, **_policies(s), **_flow(s)}}
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
