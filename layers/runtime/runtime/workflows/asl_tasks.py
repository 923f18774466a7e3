"""ASL for TLM's task states, used by ``runtime.workflows.asl``: parameters templates, Retry and
Catch policies, a ``JobTask`` as a SageMaker create + poll loop (or ``createTrainingJob.sync``),
and a ``RecordTask`` as DynamoDB writes into the events table (see ``asl``'s docstring)."""

from __future__ import annotations

import json
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
_SYNC_ERRORS = {m.JOB_FAILED: m.TASK_FAILED, m.JOB_STOPPED: m.TASK_FAILED, m.JOB_LOST: m.TASK_FAILED}


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


def flow(state: Any) -> dict[str, Any]:
    return {"End": True} if state.end else {"Next": state.next}


def policies(state: Any, *, sync: bool = False) -> dict[str, Any]:
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


def job_states(s: m.JobTask, *, sync: bool, poll_seconds: int | None) -> dict[str, Any]:
    job_name = s.job.name or f"States.Format('{s.job.name_prefix}-{{}}', States.UUID())"
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
        return {s.name: {**state, **policies(s, sync=True), **flow(s)}}
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
    return {n: {**state, **policies(s), **flow(s)}}


def record_states(s: m.RecordTask) -> dict[str, Any]:
    cls = event_class(s.event_type)  # unknown event type: Invalid at render time
    n = s.name
    stream = "States.Format('workflowrun-{}', $$.Execution.Name)"
    common = policies(s)
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
                    keys.EVENTS_PK: {"S.$": f"States.Format('{SEQUENCE_PREFIX}workflowrun-{{}}', $$.Execution.Name)"},
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
            **flow(s),
        },
    }
