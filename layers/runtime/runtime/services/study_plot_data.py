"""What every study plot reads from a ``StudyData`` dict (see ``runtime.services.study_plots``):
trials in number order, the scored ones, directions, and one axis per parameter. Pure Python."""

from __future__ import annotations

import math
from typing import Any

StudyData = dict[str, Any]
FINISHED = ("complete", "pruned", "failed")


def finite(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def trials(data: StudyData) -> list[dict[str, Any]]:
    return sorted(data.get("trials") or [], key=lambda t: int(t["number"]))


def directions(data: StudyData) -> list[str]:
    return list(data.get("directions") or ["minimize"])


def objective_names(data: StudyData) -> list[str]:
    names = list(data.get("objective_names") or [])
    return names + [f"objective_{i}" for i in range(len(names), len(directions(data)))]


def feasible(t: dict[str, Any]) -> bool:
    return t.get("feasible") is not False


def scored(data: StudyData) -> list[dict[str, Any]]:
    """Complete trials with a finite value for every objective, in number order."""
    n = len(directions(data))
    return [t for t in trials(data) if t.get("state") == "complete" and isinstance(t.get("values"), list)
            and len(t["values"]) == n and all(finite(v) for v in t["values"])]


def better(direction: str, a: float, b: float) -> bool:
    return a > b if direction == "maximize" else a < b


def axes(data: StudyData) -> list[dict[str, Any]]:
    """One axis per parameter: the space's, then any other param trials carry (inferred)."""
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for p in data.get("space") or []:
        seen.add(p["path"])
        choices = p.get("choices")
        out.append({"path": p["path"], "kind": p.get("kind", "float"), "log": bool(p.get("log")),
                    "low": p.get("low"), "high": p.get("high"),
                    "labels": list(choices) if p.get("kind") == "categorical" and choices is not None else None,
                    "condition": p.get("condition")})
    extra: dict[str, list[Any]] = {}
    for t in trials(data):
        for k, v in (t.get("params") or {}).items():
            if k not in seen:
                extra.setdefault(k, []).append(v)
    for k, vs in sorted(extra.items()):
        numeric = all(finite(v) for v in vs)
        labels = None if numeric else sorted({v for v in vs}, key=lambda v: (str(type(v)), str(v)))
        out.append({"path": k, "kind": "float" if numeric else "categorical", "log": False,
                    "low": min(vs) if numeric else None, "high": max(vs) if numeric else None,
                    "labels": labels, "condition": None})
    return out


def coordinate(axis: dict[str, Any], params: dict[str, Any]) -> float | None:
    """A param's position on its axis: the number, or the index of a categorical choice; None
    when the trial does not have it (an inactive conditional parameter)."""
    if axis["path"] not in params:
        return None
    v = params[axis["path"]]
    if axis["labels"] is not None:
        for i, c in enumerate(axis["labels"]):
            if c == v and type(c) is type(v):
                return float(i)
        return None
    return float(v) if finite(v) else None
