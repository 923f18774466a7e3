"""The ``Sampler`` port: where a study's next points and its pruning decisions come from.

``next_points`` answers an ask: the user's enqueued points first, then grid points (pure: the
exact product of the space, ``domain.studies.space.SearchSpace.grid``), then the sampler. The
sampler behind the port (``runtime.adapters.optuna_sampler``) is imported on first use only, so a
core Lambda handler that imports this module does not load optuna (which lives in its own layer).
"""

from __future__ import annotations

from typing import Any, Protocol

from domain.studies.space import SearchSpace
from domain.studies.study import Study

GRID = ("grid", "cv-grid")


class Sampler(Protocol):
    def ask(self, study: Study, n: int, round_: int) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        """``n`` new points (params, the sampler's bookkeeping attrs to keep with the trial)."""
        ...

    def prune(self, study: Study, number: int) -> tuple[bool, dict[str, Any]]:
        """Should running trial ``number`` stop, given every trial's intermediate values; and the
        pruner's bookkeeping attrs to keep with the trial."""
        ...


def optuna_sampler() -> Sampler:
    from runtime.adapters.optuna_sampler.sampler import OptunaSampler

    return OptunaSampler()


def space_of(study: Study) -> SearchSpace:
    assert study.requested is not None
    return SearchSpace.from_list(study.requested.space)


def next_points(study: Study, n: int, round_: int, sampler: Any = optuna_sampler) -> list[dict[str, Any]]:
    """Up to ``n`` points for round ``round_``: ``[{"params", "source", "attrs"}]`` (fewer when a
    grid is exhausted)."""
    req = study.requested
    assert req is not None
    out: list[dict[str, Any]] = []
    queued = req.enqueued[sum(1 for t in study.trials if t.source == "enqueued") :]
    for point in queued[:n]:
        out.append({"params": dict(point), "source": "enqueued", "attrs": {}})
    if len(out) >= n:
        return out
    if req.strategy in GRID:
        done = {_key(t.params) for t in study.trials}
        for point in space_of(study).grid():
            if len(out) >= n:
                break
            if _key(point) not in done and _key(point) not in {_key(o["params"]) for o in out}:
                out.append({"params": point, "source": "grid", "attrs": {}})
        return out
    s = sampler()
    for params, attrs in s.ask(_with_pending(study, out), n - len(out), round_):
        out.append({"params": params, "source": "sampler", "attrs": attrs})
    return out


def _key(point: dict[str, Any]) -> str:
    return repr(sorted(point.items()))


def _with_pending(study: Study, pending: list[dict[str, Any]]) -> Study:
    """The study with this ask's enqueued points as running trials (the sampler avoids them)."""
    from dataclasses import replace

    from domain.studies.study import Trial

    extra = tuple(
        Trial(len(study.trials) + i, study.rounds + 1, p["params"], p["source"], state="running")
        for i, p in enumerate(pending)
    )
    return replace(study, trials=study.trials + extra)
