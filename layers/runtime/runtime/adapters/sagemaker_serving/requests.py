"""Pure builders of SageMaker real-time endpoint requests for one serving slot (plain dicts).

One slot = one endpoint ``<prefix>-<deployment>-<slot>`` (hashed when too long) with one
production variant ``AllTraffic``, whose endpoint config and model are named after the endpoint
plus a hash of the spec (a changed spec is a new config: never an in-place edit). The container
is the serving image (``<image> serve`` runs ``jobs.serve``, SageMaker's inference contract:
``/ping`` and ``/invocations`` on 8080, the package untarred into ``/opt/ml/model``); the spec
travels as ``TLM_SERVE_*`` variables, and whole as ``TLM_SERVING_SPEC`` (read back by ``list``).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict
from typing import Any

from domain.errors import Invalid
from runtime.ports import ServingSpec

VARIANT = "AllTraffic"
TAG_DEPLOYMENT, TAG_SLOT = "tlm:deployment", "tlm:slot"
SPEC_ENV = "TLM_SERVING_SPEC"
_MAX_NAME = 63  # SageMaker's limit for endpoint, endpoint config and model names
_MAX_ENV, _MAX_ENV_VALUE = 100, 1024  # ContainerDefinition.Environment (botocore's model)
_ENV_KEY = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]{0,1023}$")


def spec_hash(spec: ServingSpec) -> str:
    return hashlib.sha256(json.dumps(asdict(spec), sort_keys=True).encode()).hexdigest()[:8]


def endpoint_name(prefix: str, deployment_id: str, slot: str) -> str:
    name = f"{prefix}-{deployment_id}-{slot}"
    if len(name) > _MAX_NAME - 9:  # room for "-<spec hash>" in the config and model names
        digest = hashlib.sha256(f"{deployment_id}/{slot}".encode()).hexdigest()[:12]
        name = f"{prefix}-{deployment_id[:_MAX_NAME - 9 - len(prefix) - 14]}-{digest}"
    return name


def config_name(prefix: str, spec: ServingSpec) -> str:
    return f"{endpoint_name(prefix, spec.deployment_id, spec.slot)}-{spec_hash(spec)}"


def model_data(model_uri: str, bucket: str) -> dict[str, Any]:
    """Where SageMaker finds the package: an ``s3://.../`` prefix of its files (what
    ``ArtifactService.materialize`` lays out) uncompressed, else a package ``.tar.gz`` (an
    ``s3://`` uri or a blob key ``sha256/<hex>`` in the blobs bucket)."""
    uri = model_uri if model_uri.startswith("s3://") else f"s3://{bucket}/{model_uri.lstrip('/')}"
    if uri.endswith("/"):
        return {"ModelDataSource": {"S3DataSource": {"S3Uri": uri, "S3DataType": "S3Prefix",
                                                     "CompressionType": "None"}}}
    return {"ModelDataUrl": uri}


def container_environment(spec: ServingSpec) -> dict[str, str]:
    env = {
        "TLM_SERVE_THREADS": str(spec.threads),
        "TLM_SERVE_MAX_BATCH": str(spec.max_batch),
        "TLM_SERVE_BATCH_DELAY_MS": f"{spec.batch_delay_ms:g}",
        "TLM_SERVE_MAX_SEQ_LEN": str(spec.max_seq_len),
        "TLM_SERVE_TIMEOUT_S": f"{spec.timeout_s:g}",
        "TLM_SERVE_MAX_TEXTS": str(spec.max_texts),
        "TLM_SERVE_RUNTIME": spec.runtime,
        "ORT_DISABLE_TELEMETRY": "1",
        SPEC_ENV: json.dumps(asdict(spec), sort_keys=True, separators=(",", ":")),
    }
    out = {**spec.environment, **env}
    for key, value in out.items():
        if len(value) > _MAX_ENV_VALUE or not _ENV_KEY.match(key):
            raise Invalid(f"environment {key!r}: SageMaker allows keys [a-zA-Z_][a-zA-Z0-9_]* and values up to "
                          f"{_MAX_ENV_VALUE} characters", field="environment")
    if len(out) > _MAX_ENV:
        raise Invalid(f"at most {_MAX_ENV - len(env)} environment variables", field="environment")
    return out


def tags(spec: ServingSpec) -> list[dict[str, str]]:
    return [{"Key": TAG_DEPLOYMENT, "Value": spec.deployment_id}, {"Key": TAG_SLOT, "Value": spec.slot}]


def create_model_request(prefix: str, spec: ServingSpec, *, image: str, role_arn: str, bucket: str) -> dict[str, Any]:
    return {
        "ModelName": config_name(prefix, spec),
        "PrimaryContainer": {
            "Image": image,
            "Mode": "SingleModel",
            **model_data(spec.model_uri, bucket),
            "Environment": container_environment(spec),
        },
        "ExecutionRoleArn": role_arn,
        "Tags": tags(spec),
    }


def create_endpoint_config_request(prefix: str, spec: ServingSpec) -> dict[str, Any]:
    return {
        "EndpointConfigName": config_name(prefix, spec),
        "ProductionVariants": [{
            "VariantName": VARIANT,
            "ModelName": config_name(prefix, spec),
            "InstanceType": spec.instance_type,
            "InitialInstanceCount": spec.instance_count,
            "InitialVariantWeight": 1.0,
            "ContainerStartupHealthCheckTimeoutInSeconds": 600,
        }],
        "Tags": tags(spec),
    }


def create_endpoint_request(prefix: str, spec: ServingSpec) -> dict[str, Any]:
    return {
        "EndpointName": endpoint_name(prefix, spec.deployment_id, spec.slot),
        "EndpointConfigName": config_name(prefix, spec),
        "Tags": tags(spec),
    }


def metric_queries(endpoint: str, *, period_s: int, latency_period_s: int) -> list[dict[str, Any]]:
    """GetMetricData queries: counters per ``period_s``, latency percentiles over ``latency_period_s``
    (SageMaker's ``ModelLatency`` is in microseconds)."""
    dims = [{"Name": "EndpointName", "Value": endpoint}, {"Name": "VariantName", "Value": VARIANT}]

    def q(qid: str, metric: str, stat: str, period: int) -> dict[str, Any]:
        return {"Id": qid, "ReturnData": True, "MetricStat": {
            "Metric": {"Namespace": "AWS/SageMaker", "MetricName": metric, "Dimensions": dims},
            "Period": period, "Stat": stat}}

    return [
        q("invocations", "Invocations", "Sum", period_s),
        q("errors4xx", "Invocation4XXErrors", "Sum", period_s),
        q("errors5xx", "Invocation5XXErrors", "Sum", period_s),
        q("p50", "ModelLatency", "p50", latency_period_s),
        q("p95", "ModelLatency", "p95", latency_period_s),
        q("p99", "ModelLatency", "p99", latency_period_s),
    ]
