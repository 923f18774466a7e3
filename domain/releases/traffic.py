"""Update strategies, their traffic schedule, and routing a request by the traffic split.

- ``all_at_once``: the candidate gets 100 % in one shift.
- ``canary``: ``percent`` (1-99) for ``bake_s``, then 100 %.
- ``linear``: ``percent`` more every ``bake_s`` (e.g. 25 -> 25, 50, 75, 100).

After every shift the release workflow bakes for ``bake_s`` (polling the candidate's metrics;
``domain.releases.verdict``) before the next one; a breach rolls back.
Routing is a weighted choice per request (``route``); shadow mode copies ``percent`` of the
requests to the shadow slot (``copy_to_shadow``) and answers with the primary's output.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from domain.errors import Invalid

Kind = Literal["all_at_once", "canary", "linear"]


class Strategy(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    kind: Kind = "all_at_once"
    percent: int | None = None  # canary: the candidate's share while baking; linear: the step
    bake_s: float = Field(default=0.0, ge=0, le=86400)

    @model_validator(mode="after")
    def _percent(self) -> Strategy:
        if self.kind == "all_at_once":
            if self.percent not in (None, 100):
                raise ValueError("percent: all_at_once shifts 100 % (leave percent out)")
        elif self.percent is None or not 1 <= self.percent <= 99:
            raise ValueError(f"percent: a {self.kind} percentage must be 1-99")
        return self

    def schedule(self) -> list[int]:
        """The candidate's share after each shift; the last is always 100."""
        if self.kind == "all_at_once" or self.percent is None:
            return [100]
        if self.kind == "canary":
            return [self.percent, 100]
        steps = list(range(self.percent, 100, self.percent))
        return [*steps, 100]


class Thresholds(BaseModel):
    """When baking fails: the candidate's error rate or p99 latency over the bake window."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    max_error_rate: float = Field(default=0.05, ge=0, le=1)
    max_p99_ms: float = Field(default=2000.0, gt=0, le=600000)
    min_invocations: int = Field(default=1, ge=0, le=1_000_000)  # fewer requests: no error-rate verdict


def _invalid(e: ValidationError, prefix: str) -> Invalid:
    first = e.errors()[0]
    loc = ".".join(str(p) for p in first["loc"])
    msg = str(first["msg"]).removeprefix("Value error, ")
    if not loc and ":" in msg:
        loc, _, msg = msg.partition(":")
        loc, msg = loc.strip(), msg.strip()
    return Invalid(f"{prefix}.{loc}: {msg}" if loc else msg, field=f"{prefix}.{loc}" if loc else prefix)


def validate_strategy(values: dict[str, Any] | None) -> Strategy:
    if values is not None and not isinstance(values, dict):
        raise Invalid("strategy must be an object", field="strategy")
    try:
        return Strategy.model_validate(values or {})
    except ValidationError as e:
        raise _invalid(e, "strategy") from None


def validate_thresholds(values: dict[str, Any] | None) -> Thresholds:
    if values is not None and not isinstance(values, dict):
        raise Invalid("thresholds must be an object", field="thresholds")
    try:
        return Thresholds.model_validate(values or {})
    except ValidationError as e:
        raise _invalid(e, "thresholds") from None


def split(primary: str | None, candidate: str, share: int) -> dict[str, int]:
    """Weights (percent per slot) when ``candidate`` has ``share`` percent."""
    if primary is None or share >= 100:
        return {candidate: 100}
    return {primary: 100 - share, candidate: share}


def route(weights: dict[str, int], u: float) -> str:
    """The slot for a request, ``u`` uniform in [0, 1). Slots in name order, so a given ``u``
    always lands in the same slot."""
    live = [(s, w) for s, w in sorted(weights.items()) if w > 0]
    if not live:
        raise Invalid("no slot takes traffic", field="weights")
    total = sum(w for _, w in live)
    point = u * total
    acc = 0.0
    for slot, w in live:
        acc += w
        if point < acc:
            return slot
    return live[-1][0]


def copy_to_shadow(percent: int, u: float) -> bool:
    return u * 100 < percent
