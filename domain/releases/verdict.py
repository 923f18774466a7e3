"""The bake verdict: from the candidate's metrics samples, keep baking, pass, or roll back.

A sample is what the serving backend reports at a moment: cumulative ``invocations`` and
``errors`` and the latency percentiles of recent requests (``p99_ms``), plus ``healthy``.
The window is the samples taken since the shift (oldest first). Pure: the release workflow's
bake step feeds it samples and the elapsed time; the same samples always give the same verdict.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from domain.releases.traffic import Thresholds

Outcome = Literal["baking", "passed", "breach"]


class Verdict(BaseModel):
    model_config = ConfigDict(frozen=True)

    outcome: Outcome
    cause: str = ""
    observed: dict[str, Any] = Field(default_factory=dict)


def _num(sample: dict[str, Any], key: str) -> float:
    v = sample.get(key)
    return float(v) if isinstance(v, int | float) else 0.0


def observe(window: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Invocations, errors, error rate and worst p99 over the window."""
    if not window:
        return {"invocations": 0, "errors": 0, "error_rate": 0.0, "p99_ms": None, "samples": 0}
    first, last = window[0], window[-1]
    base_inv = _num(first, "invocations") if len(window) > 1 else 0.0
    base_err = _num(first, "errors") if len(window) > 1 else 0.0
    inv = max(0.0, _num(last, "invocations") - base_inv)
    err = max(0.0, _num(last, "errors") - base_err)
    p99s = [float(s["p99_ms"]) for s in window if isinstance(s.get("p99_ms"), int | float)]
    return {
        "invocations": int(inv),
        "errors": int(err),
        "error_rate": (err / inv) if inv else 0.0,
        "p99_ms": max(p99s) if p99s else None,
        "samples": len(window),
    }


def bake_verdict(
    window: Sequence[dict[str, Any]], thresholds: Thresholds, *, elapsed_s: float, bake_s: float
) -> Verdict:
    seen = observe(window)
    if len(window) >= 2 and all(s.get("healthy") is False for s in window[-2:]):
        return Verdict(outcome="breach", cause="the candidate failed its health checks while baking", observed=seen)
    if seen["invocations"] >= max(1, thresholds.min_invocations) and seen["error_rate"] > thresholds.max_error_rate:
        return Verdict(
            outcome="breach",
            cause=f"error rate {seen['error_rate']:.3f} > {thresholds.max_error_rate} "
            f"({seen['errors']} of {seen['invocations']} requests)",
            observed=seen,
        )
    if seen["p99_ms"] is not None and seen["invocations"] > 0 and seen["p99_ms"] > thresholds.max_p99_ms:
        return Verdict(outcome="breach", cause=f"p99 latency {seen['p99_ms']:.1f} ms > {thresholds.max_p99_ms} ms",
                       observed=seen)  # fmt: skip
    if elapsed_s >= bake_s:
        return Verdict(outcome="passed", observed=seen)
    return Verdict(outcome="baking", observed=seen)
