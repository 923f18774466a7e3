"""Pure builders of SageMaker job requests (plain dicts, no boto3, no SDK).

``training_job_request`` gives CreateTrainingJob parameters, ``processing_job_request``
CreateProcessingJob parameters; the Step Functions / CDK side reuses them as task
parameters. Both keep the job-side container contract (``/opt/ml`` layout, ``SM_*``
variables, hyperparameters.json) so the same ``jobs/`` program runs locally and on AWS.

Processing jobs only allow local paths under ``/opt/ml/processing``; they get the same
layout under that root and ``TLM_JOB_ROOT=/opt/ml/processing`` (jobs read their paths
relative to it), and their hyperparameters travel as ``SM_HPS`` or, when too long for a
processing environment value (256 chars), as an uploaded ``input/config`` channel.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from domain.errors import Invalid
from domain.jobs import METRIC_NAMES
from runtime.ports import JobSpec

JOB_NAME_RE = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
TRAINING_ROOT = "/opt/ml"
PROCESSING_ROOT = "/opt/ml/processing"
CHECKPOINT_LOCAL_PATH = "/opt/ml/checkpoints"
# What SageMaker accepts (botocore service model): keep the errors ours, not a 400 later.
_MAX_HP_VALUE = 2500
_MAX_TRAINING_ENV_VALUE = 512
_MAX_PROCESSING_ENV_VALUE = 256
_ENV_KEY_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_CHANNEL_RE = re.compile(r"^[A-Za-z0-9\.\-_]+$")


def validate_job_name(name: str) -> str:
    """SageMaker's job-name rule; the local runner uses it too (it is also a directory name)."""
    if not isinstance(name, str) or not JOB_NAME_RE.match(name):
        raise Invalid(
            f"job name {name!r} must be 1-63 characters of letters, digits and single-or-more "
            "hyphens, starting and ending with a letter or digit",
            field="name",
        )
    return name


def encode_hyperparameters(hps: Mapping[str, Any]) -> dict[str, str]:
    """SageMaker wants str -> str: strings stay as they are, everything else is JSON."""
    out: dict[str, str] = {}
    for key, value in hps.items():
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)
        if len(str(key)) > 256 or len(text) > _MAX_HP_VALUE:
            raise Invalid(f"hyperparameter {key!r} is too long for SageMaker", field=f"hyperparameters.{key}")
        out[str(key)] = text
    return out


def metric_definitions_for(*names: str) -> list[dict[str, str]]:
    """Metric definitions matching the jobs' ``metric: name=value step=N`` log lines."""
    return [
        {"Name": n, "Regex": rf"metric: {re.escape(n)}=([-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|nan|inf))"} for n in names
    ]


# every TLM job request carries the definitions of the metric lines jobs log (domain.jobs), so
# SageMaker records them (FinalMetricDataList)
JOB_METRIC_NAMES = METRIC_NAMES
PROGRAM_ENV = "TLM_JOB_PROGRAM"  # which jobs/ program the image's `train` entry point runs
ENTRYPOINT = ["train"]  # the jobs image's entry point (jobs/bin/train -> jobs.entry)


def job_metric_definitions() -> list[dict[str, str]]:
    return metric_definitions_for(*JOB_METRIC_NAMES)


def channel_env_name(channel: str) -> str:
    return "SM_CHANNEL_" + re.sub(r"[^A-Za-z0-9_]", "_", channel).upper()


def _check_env(env: Mapping[str, str], max_value: int) -> dict[str, str]:
    for key, value in env.items():
        if not _ENV_KEY_RE.match(key) or not isinstance(value, str) or len(value) > max_value:
            raise Invalid(f"environment variable {key!r} is not valid for SageMaker", field="environment")
    if len(env) > 100:
        raise Invalid("at most 100 environment variables", field="environment")
    return dict(env)


def _s3_channels(spec: JobSpec) -> dict[str, str]:
    for name, uri in spec.channels.items():
        if not _CHANNEL_RE.match(name):
            raise Invalid(f"channel name {name!r} is not valid", field=f"channels.{name}")
        if not uri.startswith("s3://"):
            raise Invalid(f"channel {name!r} must be an s3:// URI on SageMaker", field=f"channels.{name}")
    return dict(spec.channels)


def _tags(tags: Mapping[str, str] | None) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in sorted((tags or {}).items())]


def _join(prefix: str, *parts: str) -> str:
    return "/".join([prefix.rstrip("/"), *(p.strip("/") for p in parts)])


def training_job_request(
    spec: JobSpec,
    *,
    role_arn: str,
    image_uri: str,
    output_uri: str | None = None,
    checkpoint_uri: str | None = None,
    volume_size_gb: int = 50,
    tags: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """CreateTrainingJob parameters for ``spec``. ``output_uri``/``checkpoint_uri`` are the
    defaults used when the spec leaves them empty (e.g. ``s3://bucket/jobs``)."""
    validate_job_name(spec.name)
    out = spec.output_uri or output_uri
    if not out or not out.startswith("s3://"):
        raise Invalid("output_uri must be an s3:// prefix on SageMaker", field="output_uri")
    if spec.max_runtime_s < 1:
        raise Invalid("max_runtime_s must be positive", field="max_runtime_s")
    stopping: dict[str, int] = {"MaxRuntimeInSeconds": int(spec.max_runtime_s)}
    req: dict[str, Any] = {
        "TrainingJobName": spec.name,
        "RoleArn": role_arn,
        "AlgorithmSpecification": {
            "TrainingImage": image_uri,
            "TrainingInputMode": "File",
            "MetricDefinitions": [
                {"Name": d["Name"], "Regex": d["Regex"]} for d in (spec.metric_definitions or job_metric_definitions())
            ],
        },
        "HyperParameters": encode_hyperparameters(spec.hyperparameters),
        # botocore refuses an empty list (min 1): a job without channels sends none
        "InputDataConfig": [
            {
                "ChannelName": name,
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "S3Prefix",
                        "S3Uri": uri,
                        "S3DataDistributionType": "FullyReplicated",
                    }
                },
                "InputMode": "File",
            }
            for name, uri in sorted(_s3_channels(spec).items())
        ]
        or None,
        "OutputDataConfig": {"S3OutputPath": out},
        "ResourceConfig": {
            "InstanceType": spec.instance_type,
            "InstanceCount": int(spec.instance_count),
            "VolumeSizeInGB": int(volume_size_gb),
        },
        "StoppingCondition": stopping,
        "Environment": _check_env(
            {
                "TLM_JOB_ROOT": TRAINING_ROOT,
                "TLM_JOB_NAME": spec.name,
                PROGRAM_ENV: spec.program,
                "HF_HUB_OFFLINE": "1",
                **spec.environment,
            },
            _MAX_TRAINING_ENV_VALUE,
        ),
        "Tags": _tags(tags),
    }
    if req["InputDataConfig"] is None:
        del req["InputDataConfig"]
    ckpt = spec.checkpoint_uri or (_join(checkpoint_uri, spec.name) if checkpoint_uri else None)
    if spec.use_spot:
        max_wait = spec.max_wait_s if spec.max_wait_s is not None else 2 * spec.max_runtime_s
        if max_wait < spec.max_runtime_s:
            raise Invalid("max_wait_s must be >= max_runtime_s for spot training", field="max_wait_s")
        if not ckpt:
            raise Invalid(
                "spot training needs a checkpoint_uri to resume after an interruption", field="checkpoint_uri"
            )
        stopping["MaxWaitTimeInSeconds"] = int(max_wait)
        req["EnableManagedSpotTraining"] = True
    if ckpt:
        if not ckpt.startswith("s3://"):
            raise Invalid("checkpoint_uri must be an s3:// URI on SageMaker", field="checkpoint_uri")
        req["CheckpointConfig"] = {"S3Uri": ckpt, "LocalPath": CHECKPOINT_LOCAL_PATH}
    return req


def processing_job_request(
    spec: JobSpec,
    *,
    role_arn: str,
    image_uri: str,
    output_uri: str | None = None,
    hyperparameters_uri: str | None = None,
    entrypoint: list[str] | None = None,
    volume_size_gb: int = 30,
    tags: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """CreateProcessingJob parameters for ``spec`` (evaluate / compile / package).

    ``entrypoint`` defaults to the image's ``train`` (``TLM_JOB_PROGRAM`` names the program).
    Hyperparameters go in ``SM_HPS`` when they fit; otherwise pass ``hyperparameters_uri`` (an S3 prefix holding
    hyperparameters.json) and they arrive as ``/opt/ml/processing/input/config``."""
    validate_job_name(spec.name)
    out = spec.output_uri or output_uri
    if not out or not out.startswith("s3://"):
        raise Invalid("output_uri must be an s3:// prefix on SageMaker", field="output_uri")
    root = PROCESSING_ROOT
    env: dict[str, str] = {
        "TLM_JOB_ROOT": root,
        "TLM_JOB_NAME": spec.name,
        PROGRAM_ENV: spec.program,
        "HF_HUB_OFFLINE": "1",
        "SM_MODEL_DIR": f"{root}/model",
        "SM_OUTPUT_DATA_DIR": f"{root}/output/data",
        "SM_CHECKPOINT_DIR": f"{root}/checkpoints",
    }
    inputs: list[dict[str, Any]] = []
    for name, uri in sorted(_s3_channels(spec).items()):
        local = f"{root}/input/data/{name}"
        env[channel_env_name(name)] = local
        inputs.append(_processing_input(name, uri, local))
    hps = json.dumps(spec.hyperparameters, ensure_ascii=False, sort_keys=True)
    if hyperparameters_uri:
        inputs.append(_processing_input("config", hyperparameters_uri, f"{root}/input/config"))
    elif len(hps) <= _MAX_PROCESSING_ENV_VALUE:
        env["SM_HPS"] = hps
    else:
        raise Invalid(
            "hyperparameters too long for a processing job environment; upload them (hyperparameters_uri)",
            field="hyperparameters",
        )
    if len(inputs) > 10:
        raise Invalid("a processing job takes at most 10 inputs", field="channels")
    env.update(spec.environment)
    base = _join(out, spec.name)
    return {
        "ProcessingJobName": spec.name,
        "RoleArn": role_arn,
        "AppSpecification": {
            "ImageUri": image_uri,
            "ContainerEntrypoint": entrypoint or list(ENTRYPOINT),
        },
        "ProcessingInputs": inputs,
        "ProcessingOutputConfig": {
            "Outputs": [
                {
                    "OutputName": "model",
                    "S3Output": {
                        "S3Uri": _join(base, "model"),
                        "LocalPath": f"{root}/model",
                        "S3UploadMode": "EndOfJob",
                    },
                },
                {
                    "OutputName": "output",
                    "S3Output": {
                        "S3Uri": _join(base, "output"),
                        "LocalPath": f"{root}/output",
                        "S3UploadMode": "EndOfJob",
                    },
                },
            ]
        },
        "ProcessingResources": {
            "ClusterConfig": {
                "InstanceCount": int(spec.instance_count),
                "InstanceType": spec.instance_type,
                "VolumeSizeInGB": int(volume_size_gb),
            }
        },
        "StoppingCondition": {"MaxRuntimeInSeconds": int(spec.max_runtime_s)},
        "Environment": _check_env(env, _MAX_PROCESSING_ENV_VALUE),
        "Tags": _tags(tags),
    }


def _processing_input(name: str, uri: str, local: str) -> dict[str, Any]:
    return {
        "InputName": name,
        "S3Input": {
            "S3Uri": uri,
            "LocalPath": local,
            "S3DataType": "S3Prefix",
            "S3InputMode": "File",
            "S3DataDistributionType": "FullyReplicated",
        },
    }
