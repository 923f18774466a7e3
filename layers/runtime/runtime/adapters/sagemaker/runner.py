"""JobRunner on SageMaker: training programs as training jobs, the others as processing jobs.

Clients are injected (boto3 ``sagemaker``, ``logs`` and optionally ``s3``) so tests run on
moto. Logs come from CloudWatch Logs (``/aws/sagemaker/TrainingJobs`` or
``/aws/sagemaker/ProcessingJobs``, streams ``<job name>/...``); line indices are stable per
runner instance (lines are appended as read, stream by stream in name order).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Mapping
from typing import Any

from botocore.exceptions import ClientError

from domain.errors import Conflict, Invalid, NotFound
from runtime.adapters.sagemaker.requests import (
    processing_job_request,
    training_job_request,
    validate_job_name,
)
from runtime.adapters.sagemaker.status import processing_job_status, training_job_status
from runtime.ports import JobSpec, JobStatus

TRAINING_LOG_GROUP = "/aws/sagemaker/TrainingJobs"
PROCESSING_LOG_GROUP = "/aws/sagemaker/ProcessingJobs"
DEFAULT_PROCESSING_PROGRAMS = frozenset({"evaluate", "compile", "package"})
_TERMINAL = frozenset({"Completed", "Failed", "Stopped"})


def _not_found(err: ClientError) -> bool:
    e = err.response.get("Error", {})
    msg = str(e.get("Message", "")).lower()
    return e.get("Code") in ("ResourceNotFound", "ResourceNotFoundException") or (
        e.get("Code") == "ValidationException" and ("could not find" in msg or "not found" in msg)
    )


class SageMakerJobRunner:
    def __init__(
        self,
        sagemaker_client: Any,
        logs_client: Any,
        *,
        role_arn: str,
        image_uris: Mapping[str, str],
        bucket: str,
        prefix: str = "jobs",
        s3_client: Any = None,
        processing_programs: Iterable[str] = DEFAULT_PROCESSING_PROGRAMS,
        tags: Mapping[str, str] | None = None,
    ) -> None:
        self._sm = sagemaker_client
        self._logs = logs_client
        self._s3 = s3_client
        self._role = role_arn
        self._images = dict(image_uris)
        self._bucket = bucket
        self._prefix = prefix.strip("/")
        self._processing = frozenset(processing_programs)
        self._tags = dict(tags or {})
        self._kinds: dict[str, str] = {}  # name -> "training" | "processing" (cache only)
        self._log_cache: dict[str, tuple[list[str], dict[str, str | None]]] = {}
        self._lock = threading.Lock()

    # ------------------------------------------------------------- requests
    def _base(self, *parts: str) -> str:
        return "/".join([f"s3://{self._bucket}", self._prefix, *parts])

    def request_for(self, spec: JobSpec) -> tuple[str, dict[str, Any]]:
        """("training" | "processing", request dict) for ``spec``; no AWS call except the
        hyperparameters upload a long processing-job configuration needs."""
        validate_job_name(spec.name)
        image = self._images.get(spec.program)
        if not image:
            raise Invalid(f"no container image for program {spec.program!r}", field="program")
        if spec.program not in self._processing:
            return "training", training_job_request(
                spec,
                role_arn=self._role,
                image_uri=image,
                output_uri=self._base("output"),
                checkpoint_uri=self._base("checkpoints"),
                tags=self._tags,
            )
        hps_uri = None
        if len(json.dumps(spec.hyperparameters, ensure_ascii=False, sort_keys=True)) > 256:
            if self._s3 is None:
                raise Invalid(
                    "long hyperparameters need an s3 client to upload them", field="hyperparameters"
                )
            key = f"{self._prefix}/config/{spec.name}/hyperparameters.json"
            body = json.dumps(spec.hyperparameters, ensure_ascii=False).encode()
            self._s3.put_object(Bucket=self._bucket, Key=key, Body=body)
            hps_uri = f"s3://{self._bucket}/{key.rsplit('/', 1)[0]}"
        return "processing", processing_job_request(
            spec,
            role_arn=self._role,
            image_uri=image,
            output_uri=self._base("output"),
            hyperparameters_uri=hps_uri,
            tags=self._tags,
        )

    # ------------------------------------------------------------- port
    def start(self, spec: JobSpec) -> str:
        if self._find(spec.name) is not None:
            raise Conflict(f"job {spec.name!r} already exists", field="name")
        kind, req = self.request_for(spec)
        try:
            if kind == "training":
                self._sm.create_training_job(**req)
            else:
                self._sm.create_processing_job(**req)
        except ClientError as err:
            code = err.response.get("Error", {}).get("Code")
            if code in ("ResourceInUse", "ResourceInUseException"):
                raise Conflict(f"job {spec.name!r} already exists", field="name") from err
            raise
        self._kinds[spec.name] = kind
        return spec.name

    def describe(self, name: str) -> JobStatus:
        found = self._find(name)
        if found is None:
            raise NotFound(f"no job {name!r}", field="name")
        kind, desc = found
        return training_job_status(desc) if kind == "training" else processing_job_status(desc)

    def stop(self, name: str) -> None:
        found = self._find(name)
        if found is None:
            raise NotFound(f"no job {name!r}", field="name")
        kind, desc = found
        status = desc.get("TrainingJobStatus") or desc.get("ProcessingJobStatus")
        if status in _TERMINAL or status == "Stopping":
            return  # already over: stopping is idempotent
        try:
            if kind == "training":
                self._sm.stop_training_job(TrainingJobName=name)
            else:
                self._sm.stop_processing_job(ProcessingJobName=name)
        except ClientError as err:  # finished between describe and stop
            if err.response.get("Error", {}).get("Code") != "ValidationException":
                raise

    def logs(self, name: str, *, start: int = 0) -> tuple[list[str], int]:
        validate_job_name(name)
        kind = self._kinds.get(name)
        if kind is None:
            found = self._find(name)
            if found is None:
                raise NotFound(f"no job {name!r}", field="name")
            kind = found[0]
        group = TRAINING_LOG_GROUP if kind == "training" else PROCESSING_LOG_GROUP
        with self._lock:
            lines, tokens = self._log_cache.setdefault(name, ([], {}))
            for stream in self._streams(group, name):
                tokens[stream] = self._read_stream(group, stream, tokens.get(stream), lines)
            return lines[start:], len(lines)

    # ------------------------------------------------------------- helpers
    def _find(self, name: str) -> tuple[str, dict[str, Any]] | None:
        validate_job_name(name)
        order = ["training", "processing"]
        if self._kinds.get(name) == "processing":
            order.reverse()
        for kind in order:
            try:
                if kind == "training":
                    desc = self._sm.describe_training_job(TrainingJobName=name)
                else:
                    desc = self._sm.describe_processing_job(ProcessingJobName=name)
            except ClientError as err:
                if _not_found(err):
                    continue
                raise
            self._kinds[name] = kind
            return kind, desc
        return None

    def _streams(self, group: str, name: str) -> list[str]:
        streams: list[str] = []
        kwargs: dict[str, Any] = {"logGroupName": group, "logStreamNamePrefix": f"{name}/"}
        while True:
            try:
                page = self._logs.describe_log_streams(**kwargs)
            except ClientError as err:
                if err.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                    return []
                raise
            streams += [s["logStreamName"] for s in page.get("logStreams", [])]
            if not page.get("nextToken"):
                return sorted(streams)
            kwargs["nextToken"] = page["nextToken"]

    def _read_stream(self, group: str, stream: str, token: str | None, lines: list[str]) -> str | None:
        while True:
            kwargs: dict[str, Any] = {"logGroupName": group, "logStreamName": stream, "startFromHead": True}
            if token:
                kwargs["nextToken"] = token
            page = self._logs.get_log_events(**kwargs)
            lines.extend(e["message"].rstrip("\n") for e in page.get("events", []))
            nxt = page.get("nextForwardToken")
            if not nxt or nxt == token:  # same token back: the end of the stream for now
                return nxt or token
            token = nxt
