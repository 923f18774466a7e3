"""Validation of a parameter configuration: pure, collects every violation.

``violations(values)`` lists them all (field path + message); ``validate(values)`` raises one
``ConfigInvalid`` (an ``Invalid`` naming the first field, with ``.violations`` holding all).

Rules: per-field types and ranges; unknown keys are refused (a typo such as
``architecture.hidden_sise`` would otherwise be silently ignored by the training job); and
cross-field rules (hidden size divisible by heads, positions >= max sequence length, known
activation names, ALBERT embedding <= hidden, ELECTRA generator <= discriminator, tokenizer
vocabulary fits the embedding table).

position_embedding_type: the pinned transformers (5.x) implements only absolute position
embeddings for BERT, RoBERTa, ALBERT and ELECTRA (the relative_key variants of 4.x were removed
and would be silently ignored), so "absolute" is the only accepted value. XLNet uses relative
positions by construction and has no such field.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from domain.errors import Invalid

FAMILIES = ("bert", "roberta", "albert", "electra", "xlnet")

# Names transformers' ACT2FN resolves (hidden_act / ff_activation take a name from this set).
ACTIVATIONS = frozenset(
    {
        "gelu", "gelu_new", "gelu_fast", "gelu_pytorch_tanh", "gelu_accurate", "quick_gelu",
        "relu", "relu2", "relu6", "leaky_relu", "silu", "swish", "mish", "tanh", "sigmoid", "linear",
    }
)  # fmt: skip
FAMILY_ACTIVATIONS: dict[str, frozenset[str]] = {f: ACTIVATIONS for f in FAMILIES}
POSITION_EMBEDDING_TYPES = ("absolute",)
LR_SCHEDULES = ("linear", "cosine", "constant")
TOKENIZER_TYPES = ("wordpiece-char",)
MAX_LAYERS = 128
# Architecture bounds (issue 11): far above every shipped template (base: hidden 768, 12 layers,
# 12 heads, intermediate 3072, vocabulary 21128, 512 positions) and below sizes that could not be
# trained on one accelerator. The per-project parameter and memory limits
# (``domain.limits``) then bound the product of these.
MAX_HIDDEN = 8192
MAX_HEADS = 128
MAX_INTERMEDIATE = 65536
MAX_VOCAB = 1_000_000
MAX_POSITIONS = 32768
MAX_SEQ_LENGTH = 8192
MAX_EPOCHS = 1000
MAX_STEPS = 10_000_000
MAX_BATCH = 4096


@dataclass(frozen=True)
class Violation:
    field: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message}


class ConfigInvalid(Invalid):
    """Invalid config: ``field`` is the first violation's path; ``violations`` lists them all."""

    def __init__(self, violations: list[Violation]) -> None:
        first = violations[0]
        more = f" (and {len(violations) - 1} more)" if len(violations) > 1 else ""
        super().__init__(f"{first.field}: {first.message}{more}", field=first.field)
        self.violations = violations

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "violations": [v.to_dict() for v in self.violations]}


# ---------------------------------------------------------------- field specs


@dataclass(frozen=True)
class Spec:
    kind: str  # "int" | "float" | "str" | "bool"
    min: float | None = None
    max: float | None = None
    min_open: bool = False  # min excluded
    max_open: bool = False  # max excluded
    choices: tuple[str, ...] | frozenset[str] | None = None
    nullable: bool = False
    required: bool = True


def _int(lo: float | None = 1, hi: float | None = None, **kw: Any) -> Spec:
    return Spec("int", lo, hi, **kw)


def _prob(**kw: Any) -> Spec:  # dropout-like: [0, 1)
    return Spec("float", 0.0, 1.0, max_open=True, **kw)


def _pos(**kw: Any) -> Spec:  # > 0
    return Spec("float", 0.0, None, min_open=True, **kw)


_COMMON_OPTIONAL = {
    "initializer_range": _pos(required=False),
    "layer_norm_eps": _pos(required=False),
    "pad_token_id": _int(0, required=False, nullable=True),
}
_BERT_LIKE = {
    "vocab_size": _int(1, MAX_VOCAB),
    "hidden_size": _int(1, MAX_HIDDEN),
    "num_hidden_layers": _int(1, MAX_LAYERS),
    "num_attention_heads": _int(1, MAX_HEADS),
    "intermediate_size": _int(1, MAX_INTERMEDIATE),
    "hidden_act": Spec("str", choices=ACTIVATIONS),
    "hidden_dropout_prob": _prob(),
    "attention_probs_dropout_prob": _prob(),
    "max_position_embeddings": _int(1, MAX_POSITIONS),
    "type_vocab_size": _int(1, 1024),
    "position_embedding_type": Spec("str", choices=POSITION_EMBEDDING_TYPES, required=False),
    "classifier_dropout": _prob(required=False, nullable=True),
    **_COMMON_OPTIONAL,
}
ARCHITECTURE: dict[str, dict[str, Spec]] = {
    "bert": _BERT_LIKE,
    "roberta": _BERT_LIKE,
    "albert": {
        **{k: v for k, v in _BERT_LIKE.items() if k != "classifier_dropout"},
        "embedding_size": _int(1, MAX_HIDDEN),
        "num_hidden_groups": _int(1, MAX_LAYERS),
        "inner_group_num": _int(1, MAX_LAYERS),
        "classifier_dropout_prob": _prob(required=False),
    },
    "electra": {**_BERT_LIKE, "embedding_size": _int(1, MAX_HIDDEN)},
    "xlnet": {
        "vocab_size": _int(1, MAX_VOCAB),
        "d_model": _int(1, MAX_HIDDEN),
        "n_layer": _int(1, MAX_LAYERS),
        "n_head": _int(1, MAX_HEADS),
        "d_inner": _int(1, MAX_INTERMEDIATE),
        "ff_activation": Spec("str", choices=ACTIVATIONS),
        "dropout": _prob(),
        "attn_type": Spec("str", choices=("bi", "uni")),
        "mem_len": _int(0, MAX_SEQ_LENGTH, nullable=True),
        "clamp_len": _int(-1, MAX_POSITIONS, required=False),
        "bi_data": Spec("bool", required=False),
        "same_length": Spec("bool", required=False),
        "summary_last_dropout": _prob(required=False),
        **_COMMON_OPTIONAL,
    },
}
ELECTRA_GENERATOR = {
    "hidden_size": _int(1, MAX_HIDDEN),
    "num_attention_heads": _int(1, MAX_HEADS),
    "intermediate_size": _int(1, MAX_INTERMEDIATE),
    "num_hidden_layers": _int(1, MAX_LAYERS),
}
TRAINING = {
    "learning_rate": Spec("float", 0.0, 1.0, min_open=True),
    "lr_schedule": Spec("str", choices=LR_SCHEDULES),
    "warmup_ratio": _prob(),
    "batch_size": _int(1, MAX_BATCH),
    "epochs": _int(1, MAX_EPOCHS),
    "max_steps": _int(0, MAX_STEPS),  # 0: run `epochs` (jobs/train.py convention)
    "weight_decay": Spec("float", 0.0, 1.0, max_open=True),
    "max_seq_length": _int(1, MAX_SEQ_LENGTH),
    "seed": _int(0, 2**32 - 1),
    "early_stopping_patience": _int(0, MAX_EPOCHS, nullable=True),  # 0/null: off
    "layerwise_lr_decay": Spec("float", 0.0, 1.0, min_open=True, required=False),
    "adam_epsilon": _pos(required=False),
}
TOKENIZER = {
    "type": Spec("str", choices=TOKENIZER_TYPES),
    "vocab_size": _int(1, MAX_VOCAB),
    "lowercase": Spec("bool"),
}
TOP_LEVEL = ("family", "architecture", "training", "tokenizer", "electra_generator", "source")


def _check(field: str, value: Any, spec: Spec) -> str | None:
    if value is None:
        return None if spec.nullable else "must not be null"
    if spec.kind == "bool":
        return None if isinstance(value, bool) else "must be true or false"
    if spec.kind == "str":
        if not isinstance(value, str):
            return "must be a string"
        if spec.choices is not None and value not in spec.choices:
            return f"unknown value {value!r}; expected one of {sorted(spec.choices)}"
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"must be a{'n integer' if spec.kind == 'int' else ' number'}"
    if spec.kind == "int" and not isinstance(value, int):
        return "must be an integer"
    if value != value or value in (float("inf"), float("-inf")):
        return "must be finite"
    if spec.min is not None and (value <= spec.min if spec.min_open else value < spec.min):
        return f"must be {'>' if spec.min_open else '>='} {spec.min:g}"
    if spec.max is not None and (value >= spec.max if spec.max_open else value > spec.max):
        return f"must be {'<' if spec.max_open else '<='} {spec.max:g}"
    return None


def _section(
    out: list[Violation], values: dict[str, Any], name: str, specs: dict[str, Spec]
) -> dict[str, Any]:
    section = values.get(name)
    if not isinstance(section, dict):
        out.append(Violation(name, "missing" if section is None else "must be a mapping"))
        return {}
    for key, spec in specs.items():
        path = f"{name}.{key}"
        if key not in section:
            if spec.required:
                out.append(Violation(path, "missing"))
            continue
        problem = _check(path, section[key], spec)
        if problem:
            out.append(Violation(path, problem))
    for key in section:
        if key not in specs:
            out.append(Violation(f"{name}.{key}", f"unknown field for {values.get('family')} configs"))
    ok = {k: v for k, v in section.items() if k in specs and _check(k, v, specs[k]) is None}
    return ok


def _divisible(out: list[Violation], sec: dict[str, Any], prefix: str, size: str, heads: str) -> None:
    if size in sec and heads in sec and sec[size] % sec[heads]:
        out.append(
            Violation(
                f"{prefix}.{size}",
                f"{size} ({sec[size]}) must be divisible by {heads} ({sec[heads]})",
            )
        )


def violations(values: Any) -> list[Violation]:
    """Every rule the config breaks, in a stable order (structure, fields, cross-field)."""
    if not isinstance(values, dict):
        return [Violation("values", "a configuration must be a mapping")]
    family = values.get("family")
    if family not in FAMILIES:
        return [Violation("family", f"unknown family {family!r}; expected one of {list(FAMILIES)}")]
    out: list[Violation] = []
    for key in values:
        if key not in TOP_LEVEL or (key == "electra_generator" and family != "electra"):
            out.append(Violation(str(key), f"unknown top-level field for {family} configs"))
    if "source" in values and not isinstance(values["source"], str):
        out.append(Violation("source", "must be a string"))
    arch = _section(out, values, "architecture", ARCHITECTURE[family])
    train = _section(out, values, "training", TRAINING)
    tok = _section(out, values, "tokenizer", TOKENIZER)
    gen = _section(out, values, "electra_generator", ELECTRA_GENERATOR) if family == "electra" else {}

    if family == "xlnet":
        _divisible(out, arch, "architecture", "d_model", "n_head")
    else:
        _divisible(out, arch, "architecture", "hidden_size", "num_attention_heads")
        if "max_position_embeddings" in arch and "max_seq_length" in train:
            # RoBERTa numbers positions from pad_token_id + 1, so two slots are never usable.
            offset = 2 if family == "roberta" else 0
            if arch["max_position_embeddings"] < train["max_seq_length"] + offset:
                need = "training.max_seq_length + 2" if offset else "training.max_seq_length"
                out.append(
                    Violation(
                        "architecture.max_position_embeddings",
                        f"must be >= {need} ({train['max_seq_length'] + offset})",
                    )
                )
    if family == "albert":
        if (
            "embedding_size" in arch
            and "hidden_size" in arch
            and arch["embedding_size"] > arch["hidden_size"]
        ):
            out.append(
                Violation("architecture.embedding_size", "ALBERT embedding_size must be <= hidden_size")
            )
        if (
            "num_hidden_groups" in arch
            and "num_hidden_layers" in arch
            and arch["num_hidden_groups"] > arch["num_hidden_layers"]
        ):
            out.append(Violation("architecture.num_hidden_groups", "must be <= num_hidden_layers"))
    if family == "electra":
        _divisible(out, gen, "electra_generator", "hidden_size", "num_attention_heads")
        if "hidden_size" in gen and "hidden_size" in arch and gen["hidden_size"] > arch["hidden_size"]:
            out.append(
                Violation(
                    "electra_generator.hidden_size", "the generator must not be wider than the discriminator"
                )
            )
    if "vocab_size" in tok and "vocab_size" in arch and tok["vocab_size"] > arch["vocab_size"]:
        out.append(
            Violation(
                "architecture.vocab_size",
                f"embedding table ({arch['vocab_size']}) smaller than "
                f"tokenizer.vocab_size ({tok['vocab_size']})",
            )
        )
    return out


def validate(values: Any) -> dict[str, Any]:
    """Return ``values`` unchanged if valid, else raise ConfigInvalid."""
    found = violations(values)
    if found:
        raise ConfigInvalid(found)
    return values  # type: ignore[no-any-return]
