"""Serving metrics over time, stream ``deploymentmetrics-<deployment id>``: one
``deployment.metrics_sampled`` event per slot and moment (what ``ServingBackend.metrics`` and
``health`` said), and the pure fold of those samples into series per slot and version.

Counters in a sample are cumulative since the slot started; ``series`` turns them into
per-interval invocations and errors, and keeps the latency percentiles as reported.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict

from domain.aggregate import Aggregate
from domain.errors import Invalid
from domain.events import Command, DomainEvent, event


@event("deployment.metrics_sampled")
class MetricsSampled(DomainEvent):
    slot: str
    version_id: str
    at: float  # unix seconds when sampled
    invocations: int
    errors: int
    p50_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None
    healthy: bool = True
    restarts: int = 0
    weight: int = 0  # the slot's traffic share when sampled


class Samples(BaseModel):
    model_config = ConfigDict(frozen=True)

    count: int = 0


class RecordSample(Command):
    sample: MetricsSampled


def _evolve(state: Samples, e: DomainEvent) -> Samples:
    return Samples(count=state.count + 1) if isinstance(e, MetricsSampled) else state


def _decide(state: Samples, cmd: Command) -> Sequence[DomainEvent]:
    if isinstance(cmd, RecordSample):
        return [cmd.sample]
    raise Invalid(f"unknown command {type(cmd).__name__}", field="command")


SAMPLES: Aggregate[Samples] = Aggregate("deploymentmetrics", Samples, _evolve, _decide)


def series(samples: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per slot+version (oldest first): points with per-interval ``invocations`` and
    ``errors`` (a counter that went down - a restart on a backend that does not sum - counts
    from zero), the percentiles, health and weight."""
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    for s in samples:
        key = (str(s["slot"]), str(s["version_id"]))
        g = groups.setdefault(key, {"slot": key[0], "version_id": key[1], "points": [], "_last": None})
        last = g["_last"]
        inv, err = int(s["invocations"]), int(s["errors"])
        d_inv = inv - last[0] if last and inv >= last[0] else inv
        d_err = err - last[1] if last and err >= last[1] else err
        g["_last"] = (inv, err)
        g["points"].append({
            "at": s["at"], "invocations": d_inv, "errors": d_err, "total_invocations": inv, "total_errors": err,
            "p50_ms": s.get("p50_ms"), "p95_ms": s.get("p95_ms"), "p99_ms": s.get("p99_ms"),
            "healthy": s.get("healthy", True), "weight": s.get("weight", 0),
        })  # fmt: skip
    out = []
    for g in groups.values():
        g.pop("_last")
        pts = g["points"]
        g["invocations"] = pts[-1]["total_invocations"] if pts else 0
        g["errors"] = pts[-1]["total_errors"] if pts else 0
        out.append(g)
    return out
