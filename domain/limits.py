"""Per-project limits and the size estimate of a model before any job starts (pure).

``estimate(values)`` counts a config's parameters from its architecture (the same layer shapes
transformers builds: embeddings, attention, feed-forward, layer norms, pooler; ALBERT's shared
groups, ELECTRA's embedding projection (the classifier is the discriminator alone), XLNet's
relative attention) and estimates the memory a training step needs: fp32 weights + gradients
+ two Adam moments (16 bytes a parameter), plus the activations kept for the backward pass,
``batch * seq * layers * (34 h + 5 heads seq)`` values per layer (Korthikanti et al.,
"Reducing Activation Recomputation in Large Transformer Models", 2022, table 2), 4 bytes each.

``ProjectLimits`` are the numbers a project may use; ``check_model`` raises ``TooLarge`` naming
the limit (``field="limits.max_params"`` ...) when a config's estimate exceeds them. Defaults come
from the settings (``TLM_LIMIT_*``); a project owner can lower or raise them
(``project.limits_set``, stream ``projectlimits-<project id>``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from domain.aggregate import Aggregate
from domain.errors import Forbidden, Invalid, TooLarge
from domain.events import Command, DomainEvent, event

GIB = 1024**3


@dataclass(frozen=True)
class ProjectLimits:
    max_params: int = 500_000_000  # parameters of one model (a BERT-large is 335 M)
    max_train_memory_bytes: int = 64 * GIB  # estimated memory of one training step
    storage_bytes: int = 200 * GIB  # bytes of uploaded files kept by the project
    max_jobs: int = 8  # jobs of the project running at once (more wait in a queue)
    max_jobs_per_user: int = 4  # jobs of one user running at once (more wait in a queue)

    def to_dict(self) -> dict[str, int]:
        return asdict(self)

    def with_overrides(self, overrides: dict[str, int]) -> ProjectLimits:
        return replace(self, **{k: v for k, v in overrides.items() if k in LIMIT_NAMES})


LIMIT_NAMES = tuple(f.name for f in fields(ProjectLimits))
LIMIT_MAX = 2**53  # limits are JSON numbers; anything larger is no limit in practice


def clean_overrides(values: Any) -> dict[str, int]:
    if not isinstance(values, dict) or not values:
        raise Invalid("must be a non-empty mapping of limit name to integer", field="limits")
    out: dict[str, int] = {}
    for key, value in values.items():
        if key not in LIMIT_NAMES:
            raise Invalid(f"unknown limit {key!r}; expected one of {list(LIMIT_NAMES)}", field=f"limits.{key}")
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= LIMIT_MAX:
            raise Invalid(f"must be an integer from 1 to {LIMIT_MAX}", field=f"limits.{key}")
        out[key] = value
    return out


# ---------------------------------------------------------------- the estimate


@dataclass(frozen=True)
class Estimate:
    params: int
    weight_bytes: int  # fp32
    train_memory_bytes: int  # weights + gradients + Adam moments + activations

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


def _int(section: dict[str, Any], key: str, default: int = 0) -> int:
    value = section.get(key, default)
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _layer(h: int, inner: int) -> int:
    attention = 4 * (h * h + h)  # q, k, v, output dense
    feed_forward = h * inner + inner + inner * h + h
    return attention + feed_forward + 2 * 2 * h  # two layer norms


def count_params(values: dict[str, Any]) -> tuple[int, int, int, int]:
    """(parameters, hidden size, layers, heads) of a config's architecture."""
    family = values.get("family")
    a = values.get("architecture") or {}
    if family == "xlnet":
        d, n, heads, inner, v = (_int(a, k) for k in ("d_model", "n_layer", "n_head", "d_inner", "vocab_size"))
        per_layer = 5 * d * d + 3 * d + 2 * d + d * inner + inner + inner * d + d + 4 * d  # q k v o r, biases
        return v * d + n * per_layer + d * d + d, d, n, heads
    h, n, heads, inner = (
        _int(a, k) for k in ("hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size")
    )
    v, p, t = _int(a, "vocab_size"), _int(a, "max_position_embeddings"), _int(a, "type_vocab_size", 2)
    e = _int(a, "embedding_size", h) if family in ("albert", "electra") else h
    embeddings = (v + p + t) * e + 2 * e
    projection = e * h + h if e != h else 0
    layers = n
    if family == "albert":  # parameters shared: groups x inner layers, not one set per layer
        layers = min(n, _int(a, "num_hidden_groups", 1) * _int(a, "inner_group_num", 1))
    pooler = h * h + h
    total = embeddings + projection + layers * _layer(h, inner) + pooler
    return total, h, n, heads


def estimate(values: dict[str, Any]) -> Estimate:
    params, h, layers, heads = count_params(values)
    t = values.get("training") or {}
    batch, seq = _int(t, "batch_size", 32), _int(t, "max_seq_length", 128)
    activations = batch * seq * layers * (34 * h + 5 * heads * seq) * 4
    return Estimate(params=params, weight_bytes=params * 4, train_memory_bytes=params * 16 + activations)


def _gib(n: int) -> str:
    return f"{n / GIB:.1f} GiB"


def check_model(values: dict[str, Any], limits: ProjectLimits, *, field: str = "config_id") -> Estimate:
    """The estimate, or TooLarge naming the limit the config breaks."""
    est = estimate(values)
    if est.params > limits.max_params:
        raise TooLarge(
            f"{field}: the model would have {est.params:,} parameters; the project's limit "
            f"limits.max_params is {limits.max_params:,} (shrink the architecture or ask the owner to raise it)",
            field="limits.max_params",
        )
    if est.train_memory_bytes > limits.max_train_memory_bytes:
        raise TooLarge(
            f"{field}: one training step needs about {_gib(est.train_memory_bytes)} (weights, gradients, Adam "
            f"moments, activations); the project's limit limits.max_train_memory_bytes is "
            f"{_gib(limits.max_train_memory_bytes)} (lower training.batch_size or training.max_seq_length)",
            field="limits.max_train_memory_bytes",
        )
    return est


# ---------------------------------------------------------------- per-project overrides


@event("project.limits_set")
class ProjectLimitsSet(DomainEvent):
    project_id: str
    limits: dict[str, int]


@dataclass(frozen=True)
class LimitsState:
    project_id: str | None = None
    overrides: tuple[tuple[str, int], ...] = ()

    def as_dict(self) -> dict[str, int]:
        return dict(self.overrides)


class SetLimits(Command):
    project_id: str
    limits: dict[str, Any]
    is_owner: bool


def _evolve(state: LimitsState, e: DomainEvent) -> LimitsState:
    if isinstance(e, ProjectLimitsSet):
        merged = {**state.as_dict(), **e.limits}
        return LimitsState(e.project_id, tuple(sorted(merged.items())))
    return state


def _decide(state: LimitsState, cmd: Command) -> list[DomainEvent]:
    if not isinstance(cmd, SetLimits):
        raise Invalid(f"unknown command {type(cmd).__name__}", field="command")
    if not cmd.is_owner:
        raise Forbidden("only a project owner sets its limits", field="project_id")
    return [ProjectLimitsSet(project_id=cmd.project_id, limits=clean_overrides(cmd.limits))]


LIMITS = Aggregate("projectlimits", LimitsState, _evolve, _decide)
