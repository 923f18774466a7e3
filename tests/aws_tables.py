"""The DynamoDB tables of TLM, created on moto from the runtime's key names (the same ones the
CDK storage stack uses). One place for every test that needs them."""

from __future__ import annotations

from typing import Any

from runtime.adapters.dynamodb import keys


def _create(client: Any, name: str, pk: str, sk: tuple[str, str] | None, **extra: Any) -> None:
    schema = [{"AttributeName": pk, "KeyType": "HASH"}]
    attrs = [{"AttributeName": pk, "AttributeType": "S"}]
    if sk is not None:
        schema.append({"AttributeName": sk[0], "KeyType": "RANGE"})
        attrs.append({"AttributeName": sk[0], "AttributeType": sk[1]})
    client.create_table(
        TableName=name, KeySchema=schema, AttributeDefinitions=attrs, BillingMode="PAY_PER_REQUEST", **extra
    )


def create_events_table(client: Any, name: str, *, stream: bool = True) -> None:
    """Events: pk stream id, sk version (number); a NEW_IMAGE stream feeds the projector."""
    extra = {"StreamSpecification": {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"}} if stream else {}
    _create(client, name, keys.EVENTS_PK, (keys.EVENTS_SK, "N"), **extra)


def create_views_table(client: Any, name: str) -> None:
    _create(client, name, keys.VIEWS_PK, (keys.VIEWS_SK, "S"))


def create_idempotency_table(client: Any, name: str) -> None:
    _create(client, name, keys.IDEMPOTENCY_TABLE_PK, None)


class ScriptedTrainingJobs:
    """moto completes every SageMaker training job at once; this scripts what DescribeTrainingJob
    says instead. ``plans[prefix]`` is a list, one entry per job created with that name prefix, of
    status sequences (one status per describe call; the last one repeats)."""

    def __init__(self) -> None:
        self.plans: dict[str, list[list[str]]] = {}
        self.assigned: dict[str, list[str]] = {}
        self.calls: dict[str, int] = {}

    def status_for(self, name: str) -> str:
        if name not in self.assigned:
            plans = self.plans.get(name[:-37], [])  # job names end in "-<uuid4>"
            self.assigned[name] = plans.pop(0) if plans else ["Completed"]
        n = self.calls[name] = self.calls.get(name, 0) + 1
        return self.assigned[name][min(n - 1, len(self.assigned[name]) - 1)]

    def install(self, monkeypatch: Any) -> ScriptedTrainingJobs:
        from moto.sagemaker.models import SageMakerModelBackend

        original = SageMakerModelBackend.describe_training_job
        script = self

        def describe(backend: Any, training_job_name: str) -> dict[str, Any]:
            resp = dict(original(backend, training_job_name))
            resp["TrainingJobStatus"] = status = script.status_for(training_job_name)
            if status == "Failed":
                resp["FailureReason"] = "scripted failure: CUDA out of memory"
            return resp

        monkeypatch.setattr(SageMakerModelBackend, "describe_training_job", describe)
        return self
