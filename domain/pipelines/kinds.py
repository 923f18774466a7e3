"""The node kinds a pipeline is built from: typed ports and a parameter schema per kind.

Every kind declares its input and output ports (each carries one artifact type) and a pydantic
model for its parameters (unknown parameters refused). ``available`` is False for a kind whose
platform module is not merged: it validates and compiles (to a step that fails with
``TLM.NotAvailable``) so a pipeline can be drawn before it runs (``domain.pipelines.compile.COMPILERS``).
Every kind runs today.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from domain.compiles.recipes import RECIPES

ArtifactType = Literal["model", "dataset", "config", "metrics", "version", "deployment"]
ARTIFACT_TYPES: tuple[str, ...] = ("model", "dataset", "config", "metrics", "version", "deployment")

# what an evaluate node reports (``accuracy`` is the test accuracy; names as the jobs log them too)
EVALUATE_METRICS = (
    "accuracy", "macro_f1", "loss", "test_accuracy", "test_macro_f1", "latency_p50_ms", "latency_p95_ms",
)  # fmt: skip
TRAIN_METRICS = ("train_loss", "val_loss", "val_accuracy", "accuracy")
COMPILE_METRICS = ("max_abs_diff", "label_agreement", "speedup", "latency_p50_ms", "latency_p95_ms")


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _one_of(obj: BaseModel, *names: str) -> None:
    given = [n for n in names if getattr(obj, n) is not None]
    if len(given) != 1:
        raise ValueError(f"give exactly one of {', '.join(names)}")


class ChooseModelParams(Params):
    """A library model (optionally one version of it) or a built-in template (random init)."""

    model_id: str | None = Field(default=None, min_length=1, max_length=64)
    version: int | None = Field(default=None, ge=1)
    template: str | None = Field(default=None, min_length=1, max_length=64)

    @model_validator(mode="after")
    def _check(self) -> ChooseModelParams:
        _one_of(self, "model_id", "template")
        if self.template is not None and self.version is not None:
            raise ValueError("version applies to a library model, not a template")
        return self


class DatasetParams(Params):
    dataset_id: str = Field(min_length=1, max_length=64)
    version: int | None = Field(default=None, ge=1)


class ConfigParams(Params):
    """A saved parameter config (optionally one version), or a template with overrides."""

    config_id: str | None = Field(default=None, min_length=1, max_length=64)
    version: int | None = Field(default=None, ge=1)
    template: str | None = Field(default=None, min_length=1, max_length=64)
    overrides: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check(self) -> ConfigParams:
        _one_of(self, "config_id", "template")
        if self.overrides and self.template is None:
            raise ValueError("overrides apply to a template")
        return self


class ArchEditParams(Params):
    """A structural edit of the config (``domain.configs.arch.ArchEdit`` fields)."""

    edit: dict[str, Any] = Field(min_length=1)


def space_paths(space: dict[str, Any], prefix: str = "") -> dict[str, dict[str, Any]]:
    """A search node's space as the study takes it: nested mappings (pipeline parameter keys have no
    dots) down to distributions (a mapping with ``type``), keyed by dotted path
    (``{"training": {"learning_rate": {...}}}`` -> ``{"training.learning_rate": {...}}``)."""
    out: dict[str, dict[str, Any]] = {}
    for key, value in space.items():
        path = f"{prefix}{key}"
        if not isinstance(value, dict) or not value:
            raise ValueError(f"space.{path}: a distribution ({{type: ...}}) or a mapping of them")
        if "type" in value:
            out[path] = dict(value)
        else:
            out.update(space_paths(value, f"{path}."))
    return out


class SearchParams(Params):
    """A study (``runtime.services.studies``) over ``space``: ``budget`` trials, ``max_concurrency`` at
    once, ``steps_per_trial`` training steps each (None: the config's own)."""

    space: dict[str, Any] = Field(min_length=1, description="nested mapping down to distributions ({type: ...})")
    objective: str = Field(default="val_accuracy", min_length=1, max_length=64)
    direction: Literal["maximize", "minimize"] = "maximize"
    budget: int = Field(default=8, ge=1, le=1000, description="trials")
    max_concurrency: int = Field(default=2, ge=1, le=16)
    sampler: Literal["tpe", "random", "cmaes"] = "tpe"
    steps_per_trial: int | None = Field(default=None, ge=1, le=10_000_000)
    seed: int = Field(default=0, ge=0, le=2**31 - 1)

    @model_validator(mode="after")
    def _check(self) -> SearchParams:
        space_paths(self.space)
        return self


class TrainParams(Params):
    max_epochs: int | None = Field(default=None, ge=1, le=1000)
    seed: int = Field(default=0, ge=0, le=2**31 - 1)


class EvaluateParams(Params):
    split: Literal["test", "validation"] = "test"


class CompileParams(Params):
    target: str = "onnx"
    recipe: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check(self) -> CompileParams:
        from domain.compiles.recipes import validate_recipe

        if self.target not in RECIPES:
            raise ValueError(f"unknown target {self.target!r}; expected one of {sorted(RECIPES)}")
        validate_recipe(self.target, self.recipe)  # ValueError naming the recipe field
        return self


class PackageParams(Params):
    format: Literal["tar.gz"] = "tar.gz"


class CreateVersionParams(Params):
    alias: str | None = Field(default=None, min_length=1, max_length=64)
    notes: str = Field(default="", max_length=2000)


class DeployParams(Params):
    endpoint: str = Field(min_length=1, max_length=63, pattern=r"^[a-z0-9](-?[a-z0-9])*$")
    canary_percent: int = Field(default=10, ge=1, le=100)
    bake_minutes: int = Field(default=10, ge=0, le=24 * 60)


class ApprovalParams(Params):
    approvers: list[str] = Field(default_factory=lambda: ["owner"], min_length=1, max_length=20)
    message: str = Field(default="", max_length=2000)
    timeout_hours: int = Field(default=72, ge=1, le=24 * 30)
    poll_seconds: int = Field(default=60, ge=5, le=3600)


class ConditionParams(Params):
    expression: str = Field(min_length=1, max_length=500, description="e.g. accuracy >= 0.85 and loss < 0.5")

    @model_validator(mode="after")
    def _check(self) -> ConditionParams:
        from domain.pipelines.condition import parse

        parse(self.expression)  # ValueError with the position
        return self


@dataclass(frozen=True)
class Port:
    name: str
    type: str
    required: bool = True


@dataclass(frozen=True)
class NodeKind:
    name: str
    summary: str
    params: type[Params]
    inputs: tuple[Port, ...] = ()
    outputs: tuple[Port, ...] = ()
    metrics: tuple[str, ...] = ()  # what its ``metrics`` output holds (conditions name these)
    available: bool = True
    job: str | None = None  # the jobs/ program the node runs, if any
    extra: dict[str, Any] = field(default_factory=dict)

    def input(self, name: str) -> Port | None:
        return next((p for p in self.inputs if p.name == name), None)

    def output(self, name: str) -> Port | None:
        return next((p for p in self.outputs if p.name == name), None)

    def describe(self) -> dict[str, Any]:
        return {
            "kind": self.name,
            "summary": self.summary,
            "available": self.available,
            "inputs": [{"name": p.name, "type": p.type, "required": p.required} for p in self.inputs],
            "outputs": [{"name": p.name, "type": p.type} for p in self.outputs],
            "metrics": list(self.metrics),
            "params_schema": self.params.model_json_schema(),
        }


def _kinds(*kinds: NodeKind) -> dict[str, NodeKind]:
    return {k.name: k for k in kinds}


KINDS: dict[str, NodeKind] = _kinds(
    NodeKind("choose_model", "a library model or version, or a template", ChooseModelParams,
             outputs=(Port("model", "model"),)),
    NodeKind("dataset", "a library dataset (optionally one version)", DatasetParams,
             outputs=(Port("dataset", "dataset"),)),
    NodeKind("config", "a parameter config or a template with overrides", ConfigParams,
             outputs=(Port("config", "config"),)),
    NodeKind("arch_edit", "a structural edit of a config (layers, heads, widths)", ArchEditParams,
             inputs=(Port("config", "config"),), outputs=(Port("config", "config"),)),
    NodeKind("search", "hyperparameter search (a study of trial jobs; its best config, model and metrics)",
             SearchParams,
             inputs=(Port("dataset", "dataset"), Port("config", "config"), Port("model", "model", required=False)),
             outputs=(Port("config", "config"), Port("model", "model"), Port("metrics", "metrics")),
             metrics=("objective", "val_accuracy", "val_loss"), job="train"),
    NodeKind("train", "train or fine-tune (a GPU job)", TrainParams,
             inputs=(Port("dataset", "dataset"), Port("config", "config"), Port("model", "model", required=False)),
             outputs=(Port("model", "model"), Port("metrics", "metrics")), metrics=TRAIN_METRICS, job="train"),
    NodeKind("evaluate", "evaluate a model on a dataset split", EvaluateParams,
             inputs=(Port("model", "model"), Port("dataset", "dataset")),
             outputs=(Port("metrics", "metrics"),), metrics=EVALUATE_METRICS, job="evaluate"),
    NodeKind("compile", "compile a model (ONNX, int8) and verify it", CompileParams,
             inputs=(Port("model", "model"),), outputs=(Port("model", "model"), Port("metrics", "metrics")),
             metrics=COMPILE_METRICS, job="compile"),
    NodeKind("package", "package a model for serving", PackageParams,
             inputs=(Port("model", "model"),), outputs=(Port("model", "model"),), job="package"),
    NodeKind("create_version", "create a model version in the release center", CreateVersionParams,
             inputs=(Port("model", "model"), Port("metrics", "metrics", required=False)),
             outputs=(Port("version", "version"),)),
    NodeKind("deploy", "deploy a version with a canary", DeployParams,
             inputs=(Port("version", "version"),), outputs=(Port("deployment", "deployment"),)),
    NodeKind("approval", "wait for a member's approval", ApprovalParams,
             inputs=(Port("version", "version", required=False), Port("metrics", "metrics", required=False))),
    NodeKind("condition", "continue only if metrics satisfy an expression", ConditionParams,
             inputs=(Port("metrics", "metrics"),)),
)  # fmt: skip
