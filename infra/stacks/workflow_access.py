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
    # the release workflow's steps (issue 14) read and append deployment / metrics events; what they
    # call on the serving endpoints is role_access.SERVING_USES (infra/stacks/serving.py)
    **{step: {"events": EVENTS_WRITE, "get": {"blobs": (_PAYLOADS,)}}
       for step in ("release_health", "release_shift", "release_bake", "release_finish", "release_rollback")},
    "release_launch": {"events": ("dynamodb:Query",), "get": {"blobs": (_PAYLOADS,)}},  # starts a slot, appends nothing

    # the demo-import workflow: the import job's output (the job runner's jobs/output/ prefix in the
    # artifacts bucket) becomes a dataset; the project's models view says whether it already did
    "ingest_demo_dataset": {
        "events": EVENTS_WRITE,
        "views": ("dynamodb:Query", "dynamodb:BatchGetItem"),
        "get": {"blobs": ("sha256/*", _PAYLOADS, *_INGEST_GET), "artifacts": ("jobs/output/*",)},
        **_INGEST,
    },
}
# the search workflow's steps (runtime.workflows.steps.study): they start, watch and stop the trials'
# SageMaker jobs themselves (the pruner needs the job's metric lines), so besides their data access
# they get STUDY_JOBS below; trial outputs go under trainings/ (study_launch_trial), like a training's
_STUDY_READ = {"events": EVENTS_WRITE, "views": ("dynamodb:Query", "dynamodb:BatchGetItem")}
STEP_ACCESS |= {
    "study_begin": {
        "events": ("dynamodb:Query",),
        "get": {"blobs": ("sha256/*", _PAYLOADS)},
        "put": {"blobs": ("channels/*",)},
    },  # fmt: skip
    # a round of several trials is one TransactWriteItems (a put per event, a check of the version)
    "study_ask": {"events": (*EVENTS_WRITE, "dynamodb:ConditionCheckItem"), "get": {"blobs": (_PAYLOADS,)}},
    "study_launch_trial": {"events": EVENTS_WRITE, "get": {"blobs": (_PAYLOADS,)}},
    "study_watch_trial": {"events": EVENTS_WRITE, "get": {"blobs": (_PAYLOADS,)}},
    "study_trial_error": {"events": EVENTS_WRITE, "get": {"blobs": (_PAYLOADS,)}},
    "study_finish": {
        **_STUDY_READ,
        "get": {"blobs": ("trainings/*", "sha256/*", _PAYLOADS, *_INGEST_GET)},
        **_INGEST,
    },  # fmt: skip
}
# SageMaker actions of the study steps (training jobs of this account; PassRole of the SageMaker role
# to start one; the job's CloudWatch log stream for the metric lines)
STUDY_JOBS: dict[str, tuple[str, ...]] = {
    # (the runner sends no tags: no sagemaker:AddTags)
    "study_launch_trial": ("sagemaker:CreateTrainingJob", "sagemaker:DescribeTrainingJob"),
    "study_watch_trial": ("sagemaker:DescribeTrainingJob", "sagemaker:StopTrainingJob"),
    "study_trial_error": ("sagemaker:StopTrainingJob",),
    "study_finish": ("sagemaker:DescribeTrainingJob",),
}
STUDY_LOGS = ("study_watch_trial",)
# the job runner looks a name up as a training job, then as a processing job: a trial not started yet
STUDY_PROCESSING_LOOKUP = ("study_launch_trial",)
SAMPLER_STEPS = ("study_ask", "study_watch_trial")  # they load optuna: its own layer (infra/packaging.py)
# SageMaker downloads channels (list + get) and uploads model.tar.gz / output.tar.gz; jobs the API
# asked for through the API (architecture tests, the demo import: one-job workflows) write under the
# artifacts bucket's jobs/ prefix.
SAGEMAKER_ACCESS: dict[str, object] = {
    "get": {"blobs": ("channels/*", *_OUTPUTS), "artifacts": ("jobs/checkpoints/*",)},
    "put": {"blobs": _OUTPUTS, "artifacts": ("jobs/output/*", "jobs/checkpoints/*")},
    "list": {"blobs": ("channels/*", *_OUTPUTS), "artifacts": ("jobs/checkpoints/*",)},
}
# issue 11: every job step's admit / release (runtime.workflows.job_slot_states) reads the job queue
# stream, the run owner's first event and the project's limits, and appends to the queue stream (small
# events: no offloaded payloads to read)
STEP_ACCESS |= {step: {"events": EVENTS_WRITE} for step in ("admit_job", "release_job")}
