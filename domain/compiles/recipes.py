"""Named compile recipes with validated parameters (pydantic only: no torch, safe for the API).

A compile request names a recipe (``target``) and sets some of its fields; anything else is an
error before any job starts::

    from domain.compiles.recipes import RECIPES, validate_recipe
    validate_recipe("onnx-int8", {"opset": 18, "atol": 0.5})   # -> OnnxInt8Recipe
    validate_recipe("onnx-int8", {"optlevel": 3})             # ValueError: unknown parameter 'optlevel'
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

MAX_LATENCY_BATCH = 256


class OnnxRecipe(BaseModel):
    """Export to ONNX, optimise the graph for onnxruntime, verify against eager, time both."""

    model_config = ConfigDict(extra="forbid")
    target: Literal["onnx"] = "onnx"
    exporter: Literal["auto", "dynamo", "torchscript"] = Field(
        "auto", description="auto: torch.onnx dynamo exporter, TorchScript exporter if dynamo fails")
    opset: int = Field(18, ge=14, le=20)
    optimization_level: Literal["none", "basic", "extended", "all"] = "all"
    atol: float = Field(1e-3, gt=0, description="max abs logit difference allowed vs eager")
    min_label_agreement: float = Field(0.99, ge=0, le=1)
    sample_size: int = Field(64, ge=1, le=10_000, description="verification examples")
    max_seq_length: int = Field(128, ge=8, le=4096)
    latency_batch_sizes: list[Annotated[int, Field(ge=1, le=MAX_LATENCY_BATCH)]] = Field(
        default_factory=lambda: [1, 8], min_length=1, max_length=8,
        description="batch sizes timed, each checked (1..256), at most 8")
    latency_runs: int = Field(10, ge=1, le=1000)
    num_threads: int = Field(0, ge=0, le=256, description="0: library default")


class OnnxInt8Recipe(OnnxRecipe):
    """As ``onnx``, then int8 dynamic quantization (weights int8, activations quantized at run time)."""

    target: Literal["onnx-int8"] = "onnx-int8"  # type: ignore[assignment]
    atol: float = Field(1.0, gt=0)
    min_label_agreement: float = Field(0.95, ge=0, le=1)
    per_channel: bool = False
    reduce_range: bool = False


RECIPES: dict[str, type[OnnxRecipe]] = {"onnx": OnnxRecipe, "onnx-int8": OnnxInt8Recipe}


def validate_recipe(target: str, params: dict[str, Any] | None = None) -> OnnxRecipe:
    """The recipe for ``target`` with ``params`` applied; ValueError naming the bad parameter."""
    if target not in RECIPES:
        raise ValueError(f"target: unknown recipe {target!r}; expected one of {sorted(RECIPES)}")
    data = {k: v for k, v in (params or {}).items() if k != "target"}
    try:
        return RECIPES[target].model_validate({**data, "target": target})
    except ValidationError as e:
        err = e.errors()[0]
        field = ".".join(str(p) for p in err["loc"]) or "recipe"
        if err["type"] == "extra_forbidden":
            raise ValueError(f"{field}: unknown parameter for recipe {target!r} "
                             f"(known: {sorted(RECIPES[target].model_fields)})") from None
        raise ValueError(f"{field}: {err['msg']}") from None
