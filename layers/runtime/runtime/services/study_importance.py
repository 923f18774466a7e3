"""Parameter importance and contour data for study plots. Pure Python, deterministic.

**Importance: first-order variance decomposition over binned parameters (omega squared).**
For each parameter the scored trials are grouped into bins of its value — one bin per choice of
a categorical, equal-count (quantile) bins for a number (``round(sqrt(n))`` bins, 2 to 10; one
per distinct value when there are fewer), and one bin "inactive" for trials where a conditional
parameter does not exist. The share of the objective's variance that the bin means explain is
the parameter's first-order (main) effect — the first-order term of a functional ANOVA
decomposition, which is what optuna's fANOVA importance estimates with a random forest. Raw
between-bin variance (eta squared) grows with the number of bins even for a parameter that does
nothing ((bins - 1) / (n - 1) on pure noise), so we use the bias-corrected **omega squared**:

    omega2 = (SS_between - (g - 1) * MS_within) / (SS_total + MS_within),  clipped at 0,

with g non-empty bins and MS_within = SS_within / (n - g). ``importance`` is omega2 normalised
to sum to 1 over the parameters (all 0 when none explains anything).

Why this and not a random forest: it needs no random numbers (same answer every time, on every
backend), runs in O(n log n) per parameter in plain Python inside the API Lambda, treats
conditional and categorical parameters without encoding tricks, and its number has a plain
meaning (share of variance explained). What it misses: interactions (a parameter that matters
only together with another one scores low), and quantile bins are coarse with few trials —
read it as a ranking, not a measurement. Quantile bins depend only on the order of values, so a
log-scaled parameter bins the same as its logarithm.

**Contour:** the objective over the two most important parameters (or the pair asked for), on
a 24 x 24 grid interpolated by inverse-distance weighting (power 2) in coordinates normalised to
[0, 1] per axis (log axes in log space, categorical axes as their choice indices), plus the
trials as points.
"""

from __future__ import annotations

import math
from typing import Any

from runtime.services.study_plot_data import StudyData, axes, coordinate, feasible, objective_names, scored

GRID = 24
INACTIVE = "inactive"


def _bins(axis: dict[str, Any], rows: list[dict[str, Any]]) -> list[Any]:
    """A bin key per row (same order)."""
    coords = [coordinate(axis, r.get("params") or {}) for r in rows]
    if axis["labels"] is not None:
        return [INACTIVE if c is None else int(c) for c in coords]
    active = sorted(c for c in coords if c is not None)
    distinct = sorted(set(active))
    k = max(2, min(10, round(math.sqrt(len(active))))) if active else 1
    if len(distinct) <= k:
        return [INACTIVE if c is None else c for c in coords]
    first_rank: dict[float, int] = {}
    for i, c in enumerate(active):
        first_rank.setdefault(c, i)
    return [INACTIVE if c is None else min(k - 1, first_rank[c] * k // len(active)) for c in coords]


def omega_squared(groups: list[Any], y: list[float]) -> float:
    """Bias-corrected share of the variance of ``y`` explained by the grouping (clipped at 0)."""
    n = len(y)
    mean = sum(y) / n
    sst = sum((v - mean) ** 2 for v in y)
    by: dict[Any, list[float]] = {}
    for g, v in zip(groups, y, strict=True):
        by.setdefault(g, []).append(v)
    g_count = len(by)
    if sst <= 0 or g_count < 2 or n - g_count <= 0:
        return 0.0
    ssb = sum(len(vs) * (sum(vs) / len(vs) - mean) ** 2 for vs in by.values())
    msw = (sst - ssb) / (n - g_count)
    return max(0.0, (ssb - (g_count - 1) * msw) / (sst + msw))


def importance(data: StudyData) -> dict[str, Any]:
    """Per objective, each parameter's omega squared and normalised importance, most important first."""
    done = scored(data)
    ax = axes(data)
    method = "omega squared of binned first-order effects (see runtime.services.study_importance)"
    if len(done) < 3 or not ax:
        return {"kind": "importance", "empty": True, "method": method, "objectives": [],
                "message": "needs at least 3 completed trials and one parameter"}
    objectives = []
    for k, name in enumerate(objective_names(data)):
        y = [float(t["values"][k]) for t in done]
        raw = {a["path"]: omega_squared(_bins(a, done), y) for a in ax}
        total = sum(raw.values())
        params = [{"name": p, "importance": (w / total) if total > 0 else 0.0, "omega_squared": w}
                  for p, w in raw.items()]
        params.sort(key=lambda r: (-r["omega_squared"], r["name"]))
        objectives.append({"name": name, "params": params})
    return {"kind": "importance", "empty": False, "method": method, "n_trials": len(done), "objectives": objectives}


def _scale(axis: dict[str, Any], values: list[float]) -> tuple[float, float, bool]:
    use_log = axis["log"] and all(v > 0 for v in values)
    tv = [math.log(v) if use_log else v for v in values]
    lo, hi = min(tv), max(tv)
    if axis["labels"] is not None:
        lo, hi = 0.0, float(max(1, len(axis["labels"]) - 1))
    return lo, hi, use_log


def _norm(v: float, lo: float, hi: float, use_log: bool) -> float:
    t = math.log(v) if use_log else v
    return 0.5 if hi == lo else (t - lo) / (hi - lo)


def _grid(axis: dict[str, Any], lo: float, hi: float, use_log: bool) -> list[float]:
    if axis["labels"] is not None:
        return [float(i) for i in range(len(axis["labels"]))]
    pts = [lo + (hi - lo) * i / (GRID - 1) for i in range(GRID)]
    return [math.exp(p) for p in pts] if use_log else pts


def contour(data: StudyData, params: tuple[str, str] | None = None, objective: int = 0) -> dict[str, Any]:
    """The objective over two parameters: an IDW-interpolated grid plus the trial points."""
    done = scored(data)
    ax = {a["path"]: a for a in axes(data)}
    if params is None:
        imp = importance(data)
        order = [p["name"] for p in imp["objectives"][objective]["params"]] if not imp["empty"] else list(ax)
        params = (order[0], order[1]) if len(order) >= 2 else None
    if params is None or params[0] not in ax or params[1] not in ax:
        return {"kind": "contour", "empty": True, "message": "needs two parameters", "points": []}
    xa, ya = ax[params[0]], ax[params[1]]
    pts = []
    for t in done:
        x, y = coordinate(xa, t.get("params") or {}), coordinate(ya, t.get("params") or {})
        if x is not None and y is not None:
            pts.append({"number": int(t["number"]), "x": x, "y": y, "z": float(t["values"][objective]),
                        "feasible": feasible(t)})
    if len(pts) < 3:
        return {"kind": "contour", "empty": True, "message": "needs at least 3 completed trials with both parameters",
                "points": pts, "x": {"name": xa["path"]}, "y": {"name": ya["path"]}}
    xs, ys = _scale(xa, [p["x"] for p in pts]), _scale(ya, [p["y"] for p in pts])
    norm = [(_norm(p["x"], *xs), _norm(p["y"], *ys), p["z"]) for p in pts]
    gx, gy = _grid(xa, *xs), _grid(ya, *ys)
    z = []
    for yv in gy:
        row = []
        for xv in gx:
            u, v = _norm(xv, *xs), _norm(yv, *ys)
            num = den = 0.0
            exact = None
            for px, py, pz in norm:
                d2 = (px - u) ** 2 + (py - v) ** 2
                if d2 < 1e-18:
                    exact = pz
                    break
                num, den = num + pz / d2, den + 1.0 / d2
            row.append(exact if exact is not None else num / den)
        z.append(row)

    def info(a: dict[str, Any], g: list[float], scale: tuple[float, float, bool]) -> dict[str, Any]:
        return {"name": a["path"], "kind": a["kind"], "log": scale[2], "labels": a["labels"], "grid": g}

    return {"kind": "contour", "empty": False, "objective": objective,
            "objective_name": objective_names(data)[objective],
            "method": "inverse-distance weighting (power 2) over axes normalised to [0, 1]",
            "x": info(xa, gx, xs), "y": info(ya, gy, ys), "z": z, "points": pts}
