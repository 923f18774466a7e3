"""Serving parameters of a model version: what a deployment of it runs with.

Parameters are data on the version (``modelversion.params_updated`` keeps their history); a
deployment reads the version's parameters when it launches a slot. ``validate_params`` names the
offending field as ``params.<name>``; it refuses a runtime that is not served (``torch``: a
compiled package holds no torch weights) when a version is created or its parameters change.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from domain.errors import Invalid

Runtime = Literal["onnxruntime-int8", "onnxruntime-fp32", "torch"]
RUNTIMES: tuple[str, ...] = ("onnxruntime-int8", "onnxruntime-fp32", "torch")
SERVED_RUNTIMES: tuple[str, ...] = ("onnxruntime-int8", "onnxruntime-fp32")  # what jobs.serve runs
MAX_BATCH_LIMIT = 256


class ServingParams(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    runtime: Runtime = "onnxruntime-int8"
    threads: int = Field(default=1, ge=1, le=64)
    max_batch: int = Field(default=16, ge=1, le=MAX_BATCH_LIMIT)
    batch_delay_ms: int = Field(default=2, ge=0, le=1000)
    max_seq_len: int = Field(default=128, ge=8, le=4096)
    instance_type: str | None = Field(default=None, max_length=64, pattern=r"^ml\.[a-z0-9]+\.[a-z0-9]+$")
    memory_mb: int = Field(default=2048, ge=128, le=10240)
    min_instances: int = Field(default=1, ge=0, le=100)
    max_instances: int = Field(default=1, ge=1, le=100)
    timeout_s: float = Field(default=10.0, gt=0, le=60)
    startup_timeout_s: float = Field(default=120.0, gt=0, le=3600)

    @model_validator(mode="after")
    def _instances(self) -> ServingParams:
        if self.min_instances > self.max_instances:
            raise ValueError("max_instances: must be >= min_instances")
        return self


def _field_of(err: ValidationError) -> tuple[str, str]:
    first = err.errors()[0]
    loc = ".".join(str(p) for p in first["loc"])
    msg = str(first["msg"]).removeprefix("Value error, ")
    if not loc and ":" in msg:
        loc, _, msg = msg.partition(":")
    return loc.strip(), msg.strip()


def validate_params(values: dict[str, Any] | None, base: ServingParams | None = None) -> ServingParams:
    """``values`` over ``base`` (defaults when None); Invalid naming ``params.<field>``."""
    if values is not None and not isinstance(values, dict):
        raise Invalid("params must be an object", field="params")
    asked = (values or {}).get("runtime")
    if isinstance(asked, str) and asked in RUNTIMES and asked not in SERVED_RUNTIMES:
        # a compiled package holds ONNX only (no weights for torch), and jobs.serve runs onnxruntime
        raise Invalid(f"params.runtime: {asked} is not served; use one of {', '.join(SERVED_RUNTIMES)}",
                      field="params.runtime")  # fmt: skip
    merged = {**(base or ServingParams()).model_dump(), **(values or {})}
    try:
        return ServingParams.model_validate(merged)
    except ValidationError as e:
        loc, msg = _field_of(e)
        raise Invalid(f"{loc}: {msg}" if loc else msg, field=f"params.{loc}" if loc else "params") from None
