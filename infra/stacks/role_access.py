"""What the API, projector, reactions and run-status functions may touch: exactly the DynamoDB
actions and S3 verbs/prefixes their handlers call (``infra.constructs.grants`` turns these into
IAM statements). Held both ways by the IAM audit (tests/infra/test_aws_chain.py): every call of
the chain allowed, every grant used by it or listed there with the path that needs it.

Where the calls come from (``runtime.adapters``): the DynamoDB event store (Query, GetItem,
PutItem; TransactWriteItems = PutItem + ConditionCheckItem per item; BatchGetItem for version
checks beyond one transaction), the DynamoDB view store (Query, GetItem, BatchGetItem to read;
PutItem / DeleteItem / BatchWriteItem and TransactWriteItems of puts and deletes to write), the
powertools idempotency layer (PutItem, GetItem, UpdateItem, DeleteItem), the S3 blob store
(multipart uploads under ``uploads/``, manifests, presigned downloads of ``sha256/`` blobs), the
run log (UpdateItem on a run's sequence item)."""

from __future__ import annotations

from runtime.adapters.dynamodb import keys

_PAYLOADS = keys.PAYLOAD_PREFIX + "*"  # event payloads over ~350 KB (written and read with their event)
_EVENTS_APPEND = ("dynamodb:Query", "dynamodb:GetItem", "dynamodb:PutItem")

API_ACCESS: dict[str, object] = {
    "events": (*_EVENTS_APPEND, "dynamodb:ConditionCheckItem", "dynamodb:BatchGetItem"),
    "views": ("dynamodb:Query", "dynamodb:GetItem", "dynamodb:BatchGetItem"),
    "idempotency": ("dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"),
    # uploads: CreateMultipartUpload / presigned UploadPart / Complete (PutObject), HeadObject (GetObject)
    "get": {
        "blobs": ("uploads/*", "upload-manifests/*", "sha256/*", _PAYLOADS),
        "artifacts": ("jobs/output/*",),  # an architecture test's report (its output.tar.gz)
    },
    "put": {"blobs": ("uploads/*", "upload-manifests/*", _PAYLOADS)},
    "parts": {"blobs": ("uploads/*",)},
    "abort": {"blobs": ("uploads/*",)},
}
PROJECTOR_ACCESS: dict[str, object] = {
    "views": ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"),
    "events": ("dynamodb:Query",),  # a stream whose checkpoint lags re-reads its events
    "get": {"blobs": (_PAYLOADS,)},
}
REACTIONS_ACCESS: dict[str, object] = {
    "views": ("dynamodb:GetItem", "dynamodb:PutItem"),  # each reaction's per-stream position
    "events": _EVENTS_APPEND,  # reads requests and runs, appends outcomes
    "get": {"blobs": (_PAYLOADS,)},
}
RUN_STATUS_ACCESS: dict[str, object] = {
    "events": (*_EVENTS_APPEND, "dynamodb:UpdateItem"),  # the run stream and its sequence item
    "get": {"blobs": (_PAYLOADS,)},
}

# ---------------------------------------------------------------- the release path (issue 14)
# What runtime.adapters.sagemaker_serving calls, by use: action -> resource kinds ("endpoint",
# "endpoint-config", "model" of this account named "<serving prefix>-*"; "*" where the action has no
# resource-level permissions). A create is tagged (sagemaker:AddTags) and passes the serving role.
SERVING_ACTIONS: dict[str, dict[str, tuple[str, ...]]] = {
    "create": {  # start: CreateModel, CreateEndpointConfig, CreateEndpoint (each tagged)
        "sagemaker:CreateModel": ("model",),
        "sagemaker:CreateEndpointConfig": ("endpoint-config",),
        "sagemaker:CreateEndpoint": ("endpoint",),
        "sagemaker:AddTags": ("model", "endpoint-config", "endpoint"),
    },
    "describe": {"sagemaker:DescribeEndpoint": ("endpoint",)},  # health, and every call's first look
    "spec": {"sagemaker:DescribeModel": ("model",)},  # a slot's spec, read back from its model
    "delete": {"sagemaker:DeleteEndpoint": ("endpoint",)},  # stop (config and model stay)
    "stopped": {"sagemaker:ListEndpointConfigs": ("*",)},  # a slot whose endpoint is gone: stopped or never
    "list": {"sagemaker:ListEndpoints": ("*",)},  # the live slots (ServingBackend.list)
    "invoke": {"sagemaker:InvokeEndpoint": ("endpoint",)},  # predictions
    "metrics": {"cloudwatch:GetMetricData": ("*",)},  # invocations, errors, latency percentiles
}
# Which uses each function's handlers make (the audit holds each both ways):
SERVING_USES: dict[str, tuple[str, ...]] = {
    "release_launch": ("create", "describe", "delete", "stopped"),  # start (a slot left with another spec: stop)
    "release_health": ("describe", "stopped"),
    "release_bake": ("describe", "metrics", "stopped"),  # ReleaseMonitor.sample
    "reactions": ("create", "describe", "delete", "stopped"),  # serving-slots: stop slots, start a shadow
    "api": ("describe", "spec", "invoke", "metrics", "stopped"),  # predict; GET .../metrics?sample=true
    "monitor": ("list", "describe", "spec", "metrics", "stopped"),  # ReleaseMonitor.watch
}
# the endpoints' own role: SageMaker downloads the version's package (a blob) into /opt/ml/model
SERVING_ROLE_ACCESS: dict[str, object] = {"get": {"blobs": ("sha256/*",)}}
# the scheduled release monitor: reads deployments, appends metrics samples and health changes
MONITOR_ACCESS: dict[str, object] = {"events": _EVENTS_APPEND, "get": {"blobs": (_PAYLOADS,)}}
