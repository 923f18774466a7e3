"""Architecture edits: a structural diff against a parent config, applied to give a child config.

An ``ArchEdit`` names the change in family-neutral terms (layers, hidden size, heads, FFN size,
activation, dropouts, position embeddings, ALBERT embedding size and sharing); ``FIELDS`` maps
each onto the family's transformers config field (XLNet: ``n_layer``, ``d_model``, ``n_head``,
``d_inner``, ``ff_activation``, ``dropout``). ``apply_edit`` returns the validated child values,
the leaf changes, and a *layer map* (child layer -> parent layer or None for a new,
randomly initialised layer) that the architecture test uses to carry parent weights.

Layers: ``num_layers`` alone keeps the bottom layers (4 -> 2 keeps parent layers 0 and 1; 2 -> 4
adds two new layers on top); ``keep_layers`` picks parent layers explicitly, in order (e.g.
``[0, 2, 4]``), optionally with ``num_layers`` larger to add new layers above them. ALBERT shares
parameters across layers (``num_hidden_groups`` groups of ``inner_group_num`` layers), so its layer
count changes compute, not weights; ``keep_layers`` does not apply to it.
"""

from __future__ import annotations

import copy
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from domain.configs.diff import FieldChange, diff_values
from domain.configs.validation import MAX_LAYERS, validate
from domain.errors import Invalid

_BERT_FIELDS = {
    "num_layers": "num_hidden_layers",
    "hidden_size": "hidden_size",
    "num_heads": "num_attention_heads",
    "intermediate_size": "intermediate_size",
    "activation": "hidden_act",
    "hidden_dropout": "hidden_dropout_prob",
    "attention_dropout": "attention_probs_dropout_prob",
    "position_embedding_type": "position_embedding_type",
}
FIELDS: dict[str, dict[str, str]] = {
    "bert": _BERT_FIELDS,
    "roberta": _BERT_FIELDS,
    "electra": {**_BERT_FIELDS, "embedding_size": "embedding_size"},
    "albert": {
        **_BERT_FIELDS,
        "embedding_size": "embedding_size",
        "num_hidden_groups": "num_hidden_groups",
        "inner_group_num": "inner_group_num",
    },
    "xlnet": {
        "num_layers": "n_layer",
        "hidden_size": "d_model",
        "num_heads": "n_head",
        "intermediate_size": "d_inner",
        "activation": "ff_activation",
        "hidden_dropout": "dropout",
    },
}


class ArchEdit(BaseModel):
    """A structural change to a parent config. Unset fields keep the parent's value."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    num_layers: int | None = Field(default=None, ge=1, le=MAX_LAYERS)
    keep_layers: list[int] | None = Field(default=None, min_length=1)
    hidden_size: int | None = Field(default=None, ge=1)
    num_heads: int | None = Field(default=None, ge=1)
    intermediate_size: int | None = Field(default=None, ge=1)
    activation: str | None = None
    hidden_dropout: float | None = Field(default=None, ge=0.0, lt=1.0)
    attention_dropout: float | None = Field(default=None, ge=0.0, lt=1.0)
    position_embedding_type: str | None = None
    embedding_size: int | None = Field(default=None, ge=1)  # ALBERT, ELECTRA
    num_hidden_groups: int | None = Field(default=None, ge=1)  # ALBERT sharing
    inner_group_num: int | None = Field(default=None, ge=1)  # ALBERT sharing


class ArchResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    family: str
    values: dict[str, Any]
    changes: list[FieldChange]
    layer_map: dict[str, int | None]  # child layer index -> parent layer index | None (new)
    parent_layers: int
    child_layers: int


def _layer_map(family: str, parent: int, child: int, keep: list[int] | None) -> dict[str, int | None]:
    if family == "albert":
        return {}  # shared groups: weights do not belong to layer indices
    if keep is None:
        return {str(i): (i if i < parent else None) for i in range(child)}
    return {str(i): (keep[i] if i < len(keep) else None) for i in range(child)}


def apply_edit(parent: dict[str, Any], edit: ArchEdit) -> ArchResult:
    """Child values for ``edit`` on ``parent`` (validated: ConfigInvalid on a bad result)."""
    validate(parent)
    family: str = parent["family"]
    mapping = FIELDS[family]
    requested = edit.model_dump(exclude_none=True, exclude={"keep_layers"})
    for key in requested:
        if key not in mapping:
            raise Invalid(f"{key} does not apply to {family} models", field=f"edit.{key}")
    arch = parent["architecture"]
    parent_layers = int(arch[mapping["num_layers"]])
    keep = edit.keep_layers
    if keep is not None:
        if family == "albert":
            raise Invalid(
                "ALBERT shares layers; change num_layers or num_hidden_groups", field="edit.keep_layers"
            )
        if len(set(keep)) != len(keep) or any(not 0 <= i < parent_layers for i in keep):
            raise Invalid(
                f"keep_layers must be distinct indices in 0..{parent_layers - 1}", field="edit.keep_layers"
            )
        if edit.num_layers is not None and edit.num_layers < len(keep):
            raise Invalid("num_layers is smaller than len(keep_layers)", field="edit.num_layers")
    child_layers = edit.num_layers or (len(keep) if keep is not None else parent_layers)

    values = copy.deepcopy(parent)
    values.pop("source", None)  # the child is no longer the cited preset
    child_arch = values["architecture"]
    for key, value in requested.items():
        if key == "position_embedding_type" and value == "absolute" and mapping[key] not in child_arch:
            continue  # absolute is the default: nothing to write
        child_arch[mapping[key]] = value
    child_arch[mapping["num_layers"]] = child_layers
    gen = values.get("electra_generator")
    if gen is not None and gen.get("num_hidden_layers") == parent_layers:
        gen["num_hidden_layers"] = child_layers  # ELECTRA keeps generator and discriminator equally deep
    identity = keep is None or (keep == list(range(len(keep))) and child_layers >= len(keep))
    changes = diff_values(parent, values)
    if not [c for c in changes if c.path != "source"] and identity:
        raise Invalid("the edit changes nothing", field="edit")
    validate(values)
    return ArchResult(
        family=family,
        values=values,
        changes=changes,
        layer_map=_layer_map(family, parent_layers, child_layers, keep),
        parent_layers=parent_layers,
        child_layers=child_layers,
    )


def structural_diff(parent: dict[str, Any], child: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Family-neutral view of what changed between two configs of one family:
    ``{"num_layers": {"old": 4, "new": 2}, "activation": {"old": "gelu", "new": "relu"}}``."""
    if parent.get("family") != child.get("family"):
        raise Invalid("parent and child are different families", field="family")
    mapping = FIELDS[parent["family"]]
    pa, ca = parent.get("architecture", {}), child.get("architecture", {})
    out: dict[str, dict[str, Any]] = {}
    for generic, key in mapping.items():
        if pa.get(key) != ca.get(key):
            out[generic] = {"old": pa.get(key), "new": ca.get(key)}
    return out
