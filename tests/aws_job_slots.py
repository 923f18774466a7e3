"""moto's docker-less Lambda answers every function from one queue of results (or echoes the
payload); the job steps' admit and release Lambdas (``admit_job`` / ``release_job``) run for real
here instead, on the moto events table, so a rendered state machine takes and frees real job slots
(``runtime.services.job_slots``) and the other Lambdas still get the queued results in order."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import boto3

from domain.jobqueue import Caps
from runtime.adapters.dynamodb.event_store import DynamoDbEventStore
from runtime.services.job_slots import JobSlots
from runtime.workflows.steps import job_slots

DEFAULT_CAPS = Caps(max_jobs=8, max_jobs_per_user=4)


def slot_lambdas(
    monkeypatch: Any, table: str, *, caps: Caps = DEFAULT_CAPS, slots: JobSlots | None = None, region: str = "us-east-1"
) -> JobSlots:
    """Call inside ``mock_aws``; returns the JobSlots the Lambdas use (``.store``: the events table),
    ``slots`` when given (a container's)."""
    from moto.awslambda_simple.models import LambdaSimpleBackend

    if slots is None:
        store = DynamoDbEventStore(
            boto3.client("dynamodb", region_name=region), boto3.client("s3", region_name=region), table, "tlm-unused"
        )
        slots = JobSlots(store, lambda project_id: caps)
    steps = job_slots.steps(SimpleNamespace(job_slots=slots))
    original = LambdaSimpleBackend.invoke

    def invoke(backend: Any, function_name: str, qualifier: Any, body: Any, headers: Any, response: Any) -> Any:
        step = function_name.rsplit(":", 1)[-1].removeprefix("tlm-step-")
        if step in steps:
            return json.dumps(steps[step](json.loads(body))).encode()
        return original(backend, function_name, qualifier, body, headers, response)

    monkeypatch.setattr(LambdaSimpleBackend, "invoke", invoke)
    return slots
