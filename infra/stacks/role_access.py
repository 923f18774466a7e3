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
