"""Build a sequence-classification model from a parameter config (random init, offline).

Config format: ``{"family": "bert"|"roberta"|"albert"|"electra"|"xlnet", "architecture": {...
transformers config fields ...}, "training": {...}, "tokenizer": {...}}``. The model is
``CONFIG_MAPPING[family](**architecture)`` + ``AutoModelForSequenceClassification.from_config``.
Any problem is a ``ValueError`` naming the field.
"""

from __future__ import annotations

import contextlib
import inspect
from typing import Any

from domain.trainings import PICKLE_SUFFIXES, TOKENIZER_FILES

FAMILIES = ("bert", "roberta", "albert", "electra", "xlnet")
_META = {"model_type", "architectures", "transformers_version", "_name_or_path"}


def _fail(field: str, msg: str) -> ValueError:
    return ValueError(f"{field}: {msg}")


def _known_fields(cls: Any) -> set[str]:
    names: set[str] = set()
    for klass in cls.__mro__:
        with contextlib.suppress(TypeError, ValueError):
            names.update(inspect.signature(klass.__init__).parameters)
        names.update(getattr(klass, "__annotations__", {}))
    # common PretrainedConfig kwargs
    names.update({"pad_token_id", "bos_token_id", "eos_token_id", "num_labels", "id2label", "label2id",
                  "problem_type", "classifier_dropout", "torch_dtype", "dtype"})
    return names - {"self", "kwargs"}


def model_config(config: dict[str, Any], num_labels: int, *, vocab_size: int | None = None,
                 pad_token_id: int | None = None, labels: list[str] | None = None):
    from transformers import CONFIG_MAPPING

    if not isinstance(config, dict):
        raise _fail("config", "must be a JSON object")
    family = config.get("family")
    if family not in FAMILIES:
        raise _fail("family", f"unknown family {family!r}; expected one of {list(FAMILIES)}")
    arch = config.get("architecture") or {}
    if not isinstance(arch, dict):
        raise _fail("architecture", "must be an object of transformers config fields")
    if num_labels < 2:
        raise _fail("labels", f"need at least 2 labels, got {num_labels}")
    cls = CONFIG_MAPPING[family]
    known = _known_fields(cls)
    unknown = sorted(k for k in arch if k not in known and k not in _META)
    if unknown:
        raise _fail(f"architecture.{unknown[0]}", f"not a {cls.__name__} field")
    for k, v in arch.items():
        if isinstance(v, (int, float)) and not isinstance(v, bool) and v < 0:
            raise _fail(f"architecture.{k}", f"must not be negative, got {v}")
    fields = {k: v for k, v in arch.items() if k not in _META}
    if vocab_size is not None:
        fields["vocab_size"] = vocab_size
    if pad_token_id is not None:
        fields["pad_token_id"] = pad_token_id
    _check_shapes(family, fields)
    try:
        cfg = cls(**fields, num_labels=num_labels)
    except (TypeError, ValueError) as e:
        raise _fail("architecture", str(e)) from None
    if labels:
        cfg.id2label = dict(enumerate(labels))
        cfg.label2id = {lb: i for i, lb in enumerate(labels)}
    return cfg


def _check_shapes(family: str, f: dict[str, Any]) -> None:
    if family == "xlnet":
        d, h = f.get("d_model", 1024), f.get("n_head", 16)
        if h <= 0 or d % h:
            raise _fail("architecture.d_model", f"{d} is not divisible by n_head={h}")
        return
    d, h = f.get("hidden_size", 768), f.get("num_attention_heads", 12)
    if h <= 0 or d % h:
        raise _fail("architecture.hidden_size", f"{d} is not divisible by num_attention_heads={h}")
    if family == "albert":
        groups, layers = f.get("num_hidden_groups", 1), f.get("num_hidden_layers", 12)
        if groups <= 0 or groups > layers:
            raise _fail("architecture.num_hidden_groups",
                        f"must be in 1..num_hidden_layers ({layers}), got {groups}")
    act = f.get("hidden_act")
    if act is not None:
        from transformers.activations import ACT2FN

        if act not in ACT2FN:
            raise _fail("architecture.hidden_act", f"unknown activation {act!r}")


def check_sequence_length(config: dict[str, Any], max_seq_length: int) -> None:
    arch = config.get("architecture") or {}
    if config.get("family") == "xlnet":
        return  # relative positions: no table to overflow
    max_pos = arch.get("max_position_embeddings", 512)
    need = max_seq_length + (2 if config.get("family") == "roberta" else 0)  # roberta offsets by pad id + 1
    if need > max_pos:
        raise _fail("training.max_seq_length",
                    f"{max_seq_length} needs max_position_embeddings >= {need}, has {max_pos}")


def build_model(config: dict[str, Any], num_labels: int, *, vocab_size: int | None = None,
                pad_token_id: int | None = None, labels: list[str] | None = None):
    """Random-init ``AutoModelForSequenceClassification`` for ``config``; ValueError naming the field."""
    from transformers import AutoModelForSequenceClassification

    cfg = model_config(config, num_labels, vocab_size=vocab_size, pad_token_id=pad_token_id, labels=labels)
    try:
        return AutoModelForSequenceClassification.from_config(cfg)
    except (TypeError, ValueError, RuntimeError) as e:
        raise _fail("architecture", f"cannot build {config['family']} model: {e}") from None


def load_model_dir(path):
    """(model in eval mode, tokenizer, labels) from a directory written by ``jobs.train``."""
    import json
    from pathlib import Path

    from transformers import AutoModelForSequenceClassification

    from jobs.tokenizer import load_tokenizer

    p = Path(path)
    if not (p / "config.json").exists() or not any(p.glob("*.safetensors")):
        raise ValueError(f"model: {p} is not a Hugging Face model dir with safetensors weights")
    model = AutoModelForSequenceClassification.from_pretrained(str(p), use_safetensors=True)
    model.eval()
    tokenizer = load_tokenizer(p)
    if model.config.model_type == "xlnet":
        tokenizer.padding_side = "left"
    labels_file = p / "labels.json"
    if labels_file.exists():
        labels = json.loads(labels_file.read_text(encoding="utf-8"))
    else:
        labels = [model.config.id2label[i] for i in range(model.config.num_labels)]
    return model, tokenizer, labels


# ---------------------------------------------------------------- starting from a library model


def checkpoint_family(path) -> str:
    """``model_type`` of a Hugging Face model dir (``config.json``), checked against FAMILIES;
    ValueError naming the field for a dir that is not one (no safetensors, pickles only, no
    tokenizer)."""
    import json
    from pathlib import Path

    p = Path(path)
    cfg_file = p / "config.json"
    if not cfg_file.is_file():
        raise _fail("model.config.json", f"{p} has no config.json")
    try:
        family = json.loads(cfg_file.read_text(encoding="utf-8")).get("model_type")
    except (ValueError, AttributeError):
        raise _fail("model.config.json", "not a JSON object") from None
    if family not in FAMILIES:
        raise _fail("model.family", f"model_type {family!r} is not supported; expected one of {list(FAMILIES)}")
    if not any(p.glob("*.safetensors")):
        pickles = sorted(f.name for f in p.iterdir() if f.suffix in PICKLE_SUFFIXES)
        why = f"only pickled weights ({', '.join(pickles)}), which are never loaded" if pickles else "no weights"
        raise _fail("model.weights", f"{p} has {why}; upload model.safetensors")
    if not any((p / f).is_file() for f in TOKENIZER_FILES):
        raise _fail("model.tokenizer", f"{p} has none of {list(TOKENIZER_FILES)}")
    return str(family)


def load_pretrained_tokenizer(path):
    """The checkpoint's own tokenizer: ``tokenizer.json`` (fast) or a BERT ``vocab.txt``."""
    from pathlib import Path

    p = Path(path)
    if (p / "tokenizer.json").is_file():
        from jobs.tokenizer import load_tokenizer

        return load_tokenizer(p)
    from transformers import BertTokenizerFast

    return BertTokenizerFast(vocab=str(p / "vocab.txt"))  # vocab_file= is ignored in transformers 5


def build_from_pretrained(path, labels: list[str]):
    """A sequence classifier whose encoder weights come from the checkpoint at ``path``
    (safetensors only) and whose classification head is new, sized for ``labels``: any head the
    checkpoint had (an MLM head, another task's classifier) is dropped, not reused."""
    import torch
    from transformers import AutoConfig, AutoModelForSequenceClassification

    checkpoint_family(path)
    cfg = AutoConfig.from_pretrained(str(path))
    cfg.num_labels = len(labels)
    cfg.id2label = dict(enumerate(labels))
    cfg.label2id = {lb: i for i, lb in enumerate(labels)}
    cfg.architectures = None
    model = AutoModelForSequenceClassification.from_pretrained(
        str(path), config=cfg, use_safetensors=True, ignore_mismatched_sizes=True
    )
    prefix = model.base_model_prefix
    generator = torch.Generator().manual_seed(0)
    for name, module in model.named_children():
        if name == prefix:
            continue
        for sub in module.modules():  # a fresh head, whatever the checkpoint held under that name
            if isinstance(sub, torch.nn.Linear):
                with torch.no_grad():
                    sub.weight.normal_(0.0, float(getattr(cfg, "initializer_range", 0.02)), generator=generator)
                    if sub.bias is not None:
                        sub.bias.zero_()
    return model
