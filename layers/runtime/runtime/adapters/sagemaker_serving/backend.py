"""ServingBackend on SageMaker real-time endpoints (ADR 0014): one endpoint per deployment slot.

Plain boto3 calls (``sagemaker``, ``sagemaker-runtime``, ``cloudwatch`` clients injected; no
SageMaker SDK). ``start`` creates model, endpoint config and endpoint (each a no-op when it exists
already) and returns while the endpoint is ``Creating``; ``stop`` deletes the endpoint and keeps
its config and model, so ``health`` still says ``stopped`` and a start of the same spec is cheap.
SageMaker itself replaces failed instances (``restarts`` stays 0) and holds an endpoint in
``Creating`` until the container's ``/ping`` answers; a broken artifact ends ``Failed``.

Metrics come from CloudWatch (``AWS/SageMaker``, per endpoint and variant): counters summed since
the endpoint was created (at most the last day), latency percentiles (``ModelLatency``) over the
last ``latency_window_s``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from domain.errors import Conflict, Invalid, NotFound, TooLarge, Unavailable
from runtime.adapters.sagemaker_serving import requests as rq
from runtime.ports import (
    Prediction,
    ServingEndpoint,
    ServingHealth,
    ServingMetrics,
    ServingSpec,
    check_serving_ids,
    check_serving_spec,
)

STATUS = {"InService": "healthy", "Creating": "starting", "Updating": "starting", "SystemUpdating": "starting",
          "Failed": "unhealthy", "OutOfService": "unhealthy", "RollingBack": "unhealthy", "UpdateRollbackFailed":
          "unhealthy", "Deleting": "stopped"}


def _missing(err: ClientError) -> bool:
    e = err.response.get("Error", {})
    msg = str(e.get("Message", "")).lower()
    return e.get("Code") in ("ResourceNotFound", "ValidationException") and ("could not find" in msg
                                                                            or "not found" in msg
                                                                            or "does not exist" in msg)


def _exists(err: ClientError) -> bool:
    e = err.response.get("Error", {})
    msg = str(e.get("Message", "")).lower()
    return e.get("Code") in ("ValidationException", "ResourceInUse") and ("already exist" in msg
                                                                         or "cannot create already existing" in msg)


class SageMakerServingBackend:
    def __init__(
        self,
        sagemaker_client: Any,
        runtime_client: Any,
        cloudwatch_client: Any,
        *,
        image_uri: str,
        role_arn: str,
        bucket: str,
        prefix: str = "tlm",
        latency_window_s: int = 300,
    ) -> None:
        self._sm, self._rt, self._cw = sagemaker_client, runtime_client, cloudwatch_client
        self.image_uri, self.role_arn, self.bucket, self.prefix = image_uri, role_arn, bucket, prefix
        self.latency_window_s = latency_window_s
        self._specs: dict[str, ServingSpec] = {}  # endpoint config name -> spec (immutable per name)

    # ---------------------------------------------------------------- port
    def start(self, spec: ServingSpec) -> ServingEndpoint:
        check_serving_spec(spec)
        name, config = self._name(spec.deployment_id, spec.slot), rq.config_name(self.prefix, spec)
        current = self._describe(name)
        if current is not None and current["EndpointStatus"] != "Deleting":
            if current["EndpointConfigName"] != config:
                raise Conflict(f"slot {spec.slot!r} of {spec.deployment_id!r} runs another spec: stop it first",
                               field="slot")
            return ServingEndpoint(spec.deployment_id, spec.slot, name, spec)
        self._create(self._sm.create_model, rq.create_model_request(
            self.prefix, spec, image=self.image_uri, role_arn=self.role_arn, bucket=self.bucket))
        self._create(self._sm.create_endpoint_config, rq.create_endpoint_config_request(self.prefix, spec))
        self._create(self._sm.create_endpoint, rq.create_endpoint_request(self.prefix, spec))
        self._specs[config] = spec
        return ServingEndpoint(spec.deployment_id, spec.slot, name, spec)

    def health(self, deployment_id: str, slot: str) -> ServingHealth:
        name = self._name(deployment_id, slot)
        desc = self._describe(name)
        if desc is None:
            if self._stopped_config(name) is None:
                raise NotFound(f"no serving slot {slot!r} for deployment {deployment_id!r}", field="slot")
            return ServingHealth("stopped", "endpoint deleted")
        status = desc["EndpointStatus"]
        return ServingHealth(STATUS.get(status, "unhealthy"), desc.get("FailureReason") or status)

    def invoke(self, deployment_id: str, slot: str, texts: Sequence[str]) -> list[Prediction]:
        name = self._name(deployment_id, slot)
        if isinstance(texts, str) or not isinstance(texts, Sequence) or not texts \
                or not all(isinstance(t, str) for t in texts):
            raise Invalid("texts must be a non-empty list of strings", field="texts")
        spec = self._spec_of(name, deployment_id, slot)
        if len(texts) > spec.max_texts:
            raise TooLarge(f"at most {spec.max_texts} texts per request (max_texts), got {len(texts)}", field="texts")
        health = self.health(deployment_id, slot)
        if health.status == "stopped":
            raise Conflict(f"slot {slot!r} of {deployment_id!r} is stopped", field="slot")
        if health.status != "healthy":
            raise Unavailable(f"slot {slot!r} of {deployment_id!r} is {health.status}: {health.detail}", field="slot")
        body = json.dumps({"texts": list(texts)}, ensure_ascii=False).encode()
        try:
            resp = self._rt.invoke_endpoint(EndpointName=name, ContentType="application/json",
                                            Accept="application/json", Body=body)
        except ClientError as err:
            e = err.response.get("Error", {})
            code = err.response.get("OriginalStatusCode") or 0
            message = e.get("Message", str(err))
            if e.get("Code") == "ModelError" and code == 413:
                raise TooLarge(message, field="texts") from None
            if e.get("Code") == "ModelError" and 400 <= int(code) < 500:
                raise Invalid(message, field="texts") from None
            raise Unavailable(f"endpoint {name} failed: {message}", field="slot") from None
        doc = json.loads(resp["Body"].read())
        return [Prediction(p["label"], float(p["score"]), {k: float(v) for k, v in p["scores"].items()})
                for p in doc["predictions"]]

    def metrics(self, deployment_id: str, slot: str) -> ServingMetrics:
        name = self._name(deployment_id, slot)
        desc = self._describe(name)
        if desc is None and self._stopped_config(name) is None:
            raise NotFound(f"no serving slot {slot!r} for deployment {deployment_id!r}", field="slot")
        now = datetime.now(UTC).replace(microsecond=0)
        created = desc["CreationTime"] if desc is not None else now - timedelta(days=1)
        start = max(created.astimezone(UTC).replace(second=0, microsecond=0), now - timedelta(days=1))
        span = max(60.0, (now - start).total_seconds())
        period = max(60, 60 * math.ceil(span / 1440 / 60))  # at most 1440 points per counter
        lat = max(60, 60 * (self.latency_window_s // 60))
        resp = self._cw.get_metric_data(
            MetricDataQueries=rq.metric_queries(name, period_s=period, latency_period_s=lat),
            StartTime=min(start, now - timedelta(seconds=lat)), EndTime=now + timedelta(seconds=60))
        values = {r["Id"]: r.get("Values", []) for r in resp.get("MetricDataResults", [])}

        def pct(qid: str) -> float | None:
            v = values.get(qid) or []
            return round(v[0] / 1000.0, 3) if v else None  # newest first; microseconds -> ms

        return ServingMetrics(
            invocations=int(sum(values.get("invocations", []))),
            errors=int(sum(values.get("errors4xx", [])) + sum(values.get("errors5xx", []))),
            p50_ms=pct("p50"), p95_ms=pct("p95"), p99_ms=pct("p99"), window_s=float(lat),
        )

    def stop(self, deployment_id: str, slot: str) -> None:
        name = self._name(deployment_id, slot)
        desc = self._describe(name)
        if desc is None:
            if self._stopped_config(name) is None:
                raise NotFound(f"no serving slot {slot!r} for deployment {deployment_id!r}", field="slot")
            return
        try:
            self._sm.delete_endpoint(EndpointName=name)
        except ClientError as err:
            if not _missing(err):
                raise

    def list(self) -> list[ServingEndpoint]:
        out = []
        for page in self._sm.get_paginator("list_endpoints").paginate(NameContains=f"{self.prefix}-"):
            for e in page["Endpoints"]:
                desc = self._describe(e["EndpointName"])
                if desc is None or desc["EndpointStatus"] == "Deleting":
                    continue
                spec = self._config_spec(desc["EndpointConfigName"])
                if spec is not None and self._name(spec.deployment_id, spec.slot) == e["EndpointName"]:
                    out.append(ServingEndpoint(spec.deployment_id, spec.slot, e["EndpointName"], spec))
        return sorted(out, key=lambda ep: (ep.deployment_id, ep.slot))

    # ---------------------------------------------------------------- internals
    def _name(self, deployment_id: str, slot: str) -> str:
        check_serving_ids(deployment_id, slot)
        return rq.endpoint_name(self.prefix, deployment_id, slot)

    def _describe(self, name: str) -> dict[str, Any] | None:
        try:
            return self._sm.describe_endpoint(EndpointName=name)  # type: ignore[no-any-return]
        except ClientError as err:
            if _missing(err):
                return None
            raise

    def _stopped_config(self, name: str) -> str | None:
        """A config of this endpoint left by ``stop`` (the slot existed)."""
        resp = self._sm.list_endpoint_configs(NameContains=f"{name}-", MaxResults=100)
        names = [c["EndpointConfigName"] for c in resp.get("EndpointConfigs", [])
                 if c["EndpointConfigName"].rsplit("-", 1)[0] == name]
        return names[0] if names else None

    def _spec_of(self, name: str, deployment_id: str, slot: str) -> ServingSpec:
        desc = self._describe(name)
        config = desc["EndpointConfigName"] if desc is not None else self._stopped_config(name)
        spec = self._config_spec(config) if config else None
        if spec is None:
            raise NotFound(f"no serving slot {slot!r} for deployment {deployment_id!r}", field="slot")
        return spec

    def _config_spec(self, config: str) -> ServingSpec | None:
        if config not in self._specs:
            try:
                model = self._sm.describe_model(ModelName=config)
            except ClientError as err:
                if _missing(err):
                    return None
                raise
            raw = model.get("PrimaryContainer", {}).get("Environment", {}).get(rq.SPEC_ENV)
            if not raw:
                return None
            self._specs[config] = ServingSpec(**json.loads(raw))
        return self._specs[config]

    @staticmethod
    def _create(call: Any, request: dict[str, Any]) -> None:
        try:
            call(**request)
        except ClientError as err:
            if not _exists(err):
                raise
