"""Checks for training from a library model (``train start --model``), before any job runs.

A library model can be the start of a training when it is a Hugging Face model dir of a
supported family: ``config.json`` (``model_type`` one of the families, and the library entry's
family when that is not ``other``), weights as ``*.safetensors`` (a checkpoint with only pickled
weights — ``pytorch_model.bin``, ``*.pt`` ... — is refused: TLM never unpickles user files), and
its tokenizer (``tokenizer.json`` or a BERT ``vocab.txt``). Each problem is a 4xx naming the field
(``model_id``, ``model.config.json``, ``model.family``, ``model.weights``, ``model.tokenizer``,
``family`` for a config of another family, ``training.max_seq_length``).

Only small reads: ``config.json`` (at most 1 MiB) and the safetensors header (8 bytes + at most
16 MiB of JSON) of the first weights file. Standard library only (runs in the API Lambda).
"""

from __future__ import annotations

import json
import struct
from typing import Any

from domain.configs.templates import fine_tune_training, get_template
from domain.configs.validation import FAMILIES
from domain.errors import Conflict, Invalid, NotFound
from domain.events import new_id
from domain.trainings import PICKLE_SUFFIXES, TOKENIZER_FILES
from runtime.services.commands import Caller

MAX_CONFIG_BYTES = 1 << 20
MAX_HEADER_BYTES = 16 << 20


def _read(c: Any, blob: str, start: int, length: int) -> bytes:
    return b"".join(c.blobs.open_range(blob, start, start + length - 1))


def _safetensors_ok(c: Any, f: Any) -> bool:
    if f.size < 8:
        return False
    (n,) = struct.unpack("<Q", _read(c, f.blob, 0, 8))
    if not 2 <= n <= min(MAX_HEADER_BYTES, f.size - 8):
        return False
    try:
        header = json.loads(_read(c, f.blob, 8, n))
    except ValueError:
        return False
    return isinstance(header, dict) and any(isinstance(v, dict) and "dtype" in v for v in header.values())


def parent_model(c: Any, caller: Caller, model_id: str) -> dict[str, Any]:
    """The library model a training starts from, checked; ``{"model_id", "name", "version",
    "family", "config"}`` (``config``: its config.json)."""
    try:
        model = c.library.get_model(caller, model_id)
    except NotFound as e:
        raise NotFound(e.message, field="model_id") from None
    if model.get("kind", "model") != "model":
        raise Invalid(f"{model_id} is a {model.get('kind')}, not a model", field="model_id")
    label = f"model {model['name']!r} ({model_id})"
    files = {f.path: f for f in c.artifacts.files_of(model_id).values()}
    cfg_file = files.get("config.json")
    if cfg_file is None:
        raise Invalid(f"{label} has no config.json (a Hugging Face model dir is needed)", field="model.config.json")
    if cfg_file.size > MAX_CONFIG_BYTES:
        raise Invalid(f"{label}: config.json is over {MAX_CONFIG_BYTES} bytes", field="model.config.json")
    try:
        config = json.loads(_read(c, cfg_file.blob, 0, cfg_file.size) if cfg_file.size else b"")
    except (ValueError, UnicodeDecodeError):
        config = None
    if not isinstance(config, dict):
        raise Invalid(f"{label}: config.json is not a JSON object", field="model.config.json")
    family = config.get("model_type")
    if family not in FAMILIES:
        raise Invalid(
            f"{label}: model_type {family!r} is not a supported family; expected one of {list(FAMILIES)}",
            field="model.family",
        )
    if model.get("family") not in (family, "other", None, ""):
        raise Invalid(
            f"{label} is registered as {model['family']!r} but its config.json says {family!r}", field="model.family"
        )
    weights = sorted(p for p in files if p.endswith(".safetensors") and "/" not in p)
    if not weights:
        pickles = sorted(p for p in files if p.endswith(PICKLE_SUFFIXES))
        why = f"only pickled weights ({', '.join(pickles)}), which TLM never loads" if pickles else "no weights"
        raise Invalid(f"{label} has {why}; upload model.safetensors", field="model.weights")
    if not _safetensors_ok(c, files[weights[0]]):
        raise Invalid(f"{label}: {weights[0]} is not a safetensors file", field="model.weights")
    if not any(t in files for t in TOKENIZER_FILES):
        raise Invalid(
            f"{label} has no tokenizer files ({' or '.join(TOKENIZER_FILES)}); the tokenizer is kept from the model",
            field="model.tokenizer",
        )
    return {"model_id": model_id, "name": model["name"], "version": model["version"], "family": family,
            "config": config}  # fmt: skip


def check_compatible(config: dict[str, Any], parent: dict[str, Any]) -> None:
    """The training config against the model it starts from: same family, and sequences that
    fit the model's position table."""
    if config["family"] != parent["family"]:
        raise Invalid(
            f"config {config['name']!r} ({config['config_id']}) is for {config['family']!r} but model "
            f"{parent['name']!r} ({parent['model_id']}) is {parent['family']!r}",
            field="family",
        )
    seq = (config["values"].get("training") or {}).get("max_seq_length")
    max_pos = parent["config"].get("max_position_embeddings")
    offset = 2 if parent["family"] == "roberta" else 0
    if parent["family"] != "xlnet" and isinstance(seq, int) and isinstance(max_pos, int) and seq + offset > max_pos:
        raise Invalid(
            f"training.max_seq_length {seq} exceeds model {parent['name']!r}'s max_position_embeddings {max_pos}"
            + (" (minus 2 for roberta)" if offset else ""),
            field="training.max_seq_length",
        )


def size_of(config: dict[str, Any]) -> str:
    """The template size closest to a checkpoint's width (hidden_size / d_model)."""
    width = config.get("hidden_size") or config.get("d_model") or 768
    return "tiny" if width <= 128 else "small" if width <= 512 else "base"


def fine_tune_config(c: Any, caller: Caller, project_id: str, parent: dict[str, Any]) -> dict[str, Any]:
    """A config for fine-tuning ``parent`` when none was given: the family's template of the
    nearest size with its fine-tune defaults (``domain.configs.templates.fine_tune_training``),
    sequences capped by the model's positions. Recorded as a config of the project (lineage)."""
    template = get_template(f"{parent['family']}-{size_of(parent['config'])}")
    training = fine_tune_training(template.name)
    max_pos = parent["config"].get("max_position_embeddings")
    if parent["family"] != "xlnet" and isinstance(max_pos, int):
        training["max_seq_length"] = min(training["max_seq_length"], max_pos - (2 if parent["family"] == "roberta"
                                                                                 else 0))  # fmt: skip
    overrides = {f"training.{k}": v for k, v in training.items()}
    arch_pos = "architecture.max_position_embeddings"
    if parent["family"] != "xlnet" and isinstance(max_pos, int):
        overrides[arch_pos] = max(max_pos, training["max_seq_length"])
    name = f"fine-tune {parent['name']}"[:100]
    for attempt in range(3):
        try:
            return c.configs.create_from_template(  # type: ignore[no-any-return]
                caller, project_id, template.name, name=name if attempt == 0 else f"{name} {new_id()[:6]}",
                description=f"{template.name} fine-tune defaults for model {parent['model_id']} "
                f"v{parent['version']} ({template.why})"[:1000],
                overrides=overrides,
            )  # fmt: skip
        except Conflict:
            continue
    raise Conflict(f"could not name a fine-tune config for {parent['name']!r}", field="config_id")
