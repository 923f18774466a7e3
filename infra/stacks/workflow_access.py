"""Which S3 prefixes and DynamoDB actions each workflow step Lambda and the SageMaker execution role
get (``infra/stacks/workflows.py`` turns these into IAM statements)."""

from __future__ import annotations

from runtime.adapters.dynamodb import keys

# What each step Lambda and the SageMaker role may touch, held both ways by the IAM audit test
# (tests/infra/test_aws_chain.py: every call allowed, every grant used). Blobs-bucket prefixes:
# sha256/ (verified blobs), channels/ (job inputs laid out by the steps), trainings/ and
# artifacts/compiles/ (job outputs), uploads/ + upload-manifests/ (ingesting files through the
# verified upload path), keys.PAYLOAD_PREFIX (event payloads over ~350 KB, read when a stream
# holds one).
EVENTS_READ = ("dynamodb:Query", "dynamodb:GetItem")
EVENTS_WRITE = (*EVENTS_READ, "dynamodb:PutItem")
_OUTPUTS = ("trainings/*", "artifacts/compiles/*")
_PAYLOADS = keys.PAYLOAD_PREFIX + "*"
_INGEST_GET = ("uploads/*", "upload-manifests/*")
_INGEST = {
    "put": {"blobs": ("uploads/*", "upload-manifests/*", "sha256/*")},
    "delete": {"blobs": ("uploads/*",)},
    "parts": {"blobs": ("uploads/*",)},
    "abort": {"blobs": ("uploads/*",)},  # a failed part upload is aborted (Artifacts._send)
}
STEP_ACCESS: dict[str, dict[str, object]] = {
    "prepare_training_data": {
        "events": ("dynamodb:Query",),  # reads the dataset's stream, writes nothing
        "get": {"blobs": ("sha256/*", _PAYLOADS)},
        "put": {"blobs": ("channels/*",)},
    },
    "validate_compile_request": {
        "events": EVENTS_WRITE,
        "get": {"blobs": ("sha256/*", _PAYLOADS)},
        "put": {"blobs": ("channels/*",)},
    },
    "verify_compile": {"events": EVENTS_WRITE, "get": {"blobs": ("artifacts/compiles/*", _PAYLOADS)}},
    "record_compile": {
        "events": EVENTS_WRITE,
        "get": {"blobs": ("artifacts/compiles/*", "sha256/*", _PAYLOADS, *_INGEST_GET)},
        **_INGEST,
    },
    "register_artifacts": {
        "events": EVENTS_WRITE,
        # the registered model's lineage and name checks read the project's models view partition
        "views": ("dynamodb:Query", "dynamodb:BatchGetItem"),
        "get": {"blobs": ("trainings/*", "sha256/*", _PAYLOADS, *_INGEST_GET)},
        **_INGEST,
    },
    # the demo-import workflow: the import job's output (the job runner's jobs/output/ prefix in the
    # artifacts bucket) becomes a dataset; the project's models view says whether it already did
    "ingest_demo_dataset": {
        "events": EVENTS_WRITE,
        "views": ("dynamodb:Query", "dynamodb:BatchGetItem"),
        "get": {"blobs": ("sha256/*", _PAYLOADS, *_INGEST_GET), "artifacts": ("jobs/output/*",)},
        **_INGEST,
    },
}
# SageMaker downloads channels (list + get) and uploads model.tar.gz / output.tar.gz; jobs the API
# asked for through the API (architecture tests, the demo import: one-job workflows) write under the
# artifacts bucket's jobs/ prefix.
SAGEMAKER_ACCESS: dict[str, object] = {
    "get": {"blobs": ("channels/*", *_OUTPUTS), "artifacts": ("jobs/checkpoints/*",)},
    "put": {"blobs": _OUTPUTS, "artifacts": ("jobs/output/*", "jobs/checkpoints/*")},
    "list": {"blobs": ("channels/*", *_OUTPUTS), "artifacts": ("jobs/checkpoints/*",)},
}
