"""Study plots as JSON for the browser UI (and the data behind the PNG/SVG files).

Pure Python (stdlib only): the core Lambda layer must stay light, so no numpy, no optuna. Every
function takes one ``StudyData`` dict, the shape agreed with the study service (branch ``hpo``),
and returns plain JSON-able dicts:

StudyData = {
    "study_id": str,
    "directions": ["maximize" | "minimize", ...],
    "objective_names": [str, ...],
    "space": [{"path": str, "kind": "float" | "int" | "categorical",
               "low": num | None, "high": num | None, "log": bool,
               "choices": list | None,
               "condition": {"parent": path, "equals": value} | None}],
    "trials": [{"number": int,
                "state": "asked" | "running" | "complete" | "pruned" | "failed",
                "params": {path: value},
                "values": [float] | None,
                "constraints": [float] | None,
                "feasible": bool | None,
                "intermediate": {"<step int as str>": float},
                "started_at": iso | None, "ended_at": iso | None,
                "job": str | None}],
}

Rules every plot follows:

- A trial counts for objective plots when it is ``complete`` with finite values. ``feasible``
  None means unconstrained (feasible). Infeasible trials are drawn (flagged) but never the best
  and never on the Pareto front.
- Every plot has ``"empty": bool`` and, when empty, a ``"message"`` saying why (an empty study
  gives empty plots, never an error).
- Incremental reads, like optuna-dashboard's ``?after=N``: the per-trial plots (history,
  intermediate, parallel coordinates, slices) and ``all_plots`` take ``after``; they return only
  the rows of trials numbered >= ``after`` (computed over the whole study, so best-so-far stays
  right). ``fixed_trials`` (in ``all_plots``) is how many leading trials are finished
  (complete/pruned/failed) and will not change: the client keeps those and passes
  ``after=fixed_trials`` next time. Aggregates (importance, contour, Pareto front) are always whole.
- Categorical axes carry indices into ``labels`` (the choices); log-scaled params say ``"log": true``
  and keep their raw values (the UI draws a log axis).

Parameter importance and contour live in ``runtime.services.study_importance``.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any

from runtime.services.study_importance import contour, importance
from runtime.services.study_plot_data import (
    FINISHED,
    StudyData,
    axes,
    better,
    coordinate,
    directions,
    feasible,
    finite,
    objective_names,
    scored,
    trials,
)

__all__ = ["StudyData", "all_plots", "history", "intermediate", "parallel_coordinates", "slices", "contour",
           "importance", "pareto_front", "trials_csv", "fixed_trials", "axes", "scored"]


def _empty(kind: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"kind": kind, "empty": True, "message": message, **extra}


def _axis_info(a: dict[str, Any]) -> dict[str, Any]:
    return {"name": a["path"], "kind": a["kind"], "log": a["log"], "labels": a["labels"]}


# ---------------------------------------------------------------- the plots
def history(data: StudyData, after: int | None = None) -> dict[str, Any]:
    """Objective value of each complete trial and the best so far (feasible trials only), per
    objective; ``best`` has one point per scored trial once a feasible one exists."""
    done = scored(data)
    objectives = []
    for k, (name, direction) in enumerate(zip(objective_names(data), directions(data), strict=False)):
        best: float | None = None
        best_number: int | None = None
        points, line = [], []
        for t in done:
            v = float(t["values"][k])
            if feasible(t) and (best is None or better(direction, v, best)):
                best, best_number = v, int(t["number"])
            if after is None or int(t["number"]) >= after:
                points.append({"number": int(t["number"]), "value": v, "feasible": feasible(t)})
                if best is not None:
                    line.append({"number": int(t["number"]), "value": best, "best_trial": best_number})
        objectives.append({"name": name, "direction": direction, "points": points, "best": line})
    if not done:
        return _empty("history", "no completed trials yet", objectives=objectives)
    return {"kind": "history", "empty": False, "objectives": objectives}


def intermediate(data: StudyData, after: int | None = None) -> dict[str, Any]:
    """Each trial's reported intermediate values by step (steps as ints, sorted)."""
    rows = []
    for t in trials(data):
        iv = t.get("intermediate") or {}
        pts = sorted((int(s), float(v)) for s, v in iv.items() if finite(v))
        if not pts or (after is not None and int(t["number"]) < after):
            continue
        rows.append({"number": int(t["number"]), "state": t.get("state"), "pruned": t.get("state") == "pruned",
                     "steps": [s for s, _ in pts], "values": [v for _, v in pts]})
    if not rows:
        return _empty("intermediate", "no intermediate values reported yet", trials=[])
    return {"kind": "intermediate", "empty": False, "trials": rows}


def parallel_coordinates(data: StudyData, objective: int = 0, after: int | None = None) -> dict[str, Any]:
    """One line per scored trial: the objective axis first, then one axis per parameter
    (categorical as choice indices with ``labels``; None where a conditional param is inactive)."""
    done = scored(data)
    ax = axes(data)
    if not done:
        return _empty("parallel_coordinates", "no completed trials yet", dimensions=[], trials=[])
    rows = [t for t in done if after is None or int(t["number"]) >= after]
    dims = [{"name": objective_names(data)[objective], "kind": "objective", "log": False, "labels": None,
             "direction": directions(data)[objective],
             "range": _range([float(t["values"][objective]) for t in done]),
             "values": [float(t["values"][objective]) for t in rows]}]
    for a in ax:
        every = [c for t in done if (c := coordinate(a, t.get("params") or {})) is not None]
        rng = [0.0, float(len(a["labels"]) - 1)] if a["labels"] is not None else _range(every, a)
        dims.append({**_axis_info(a), "range": rng, "values": [coordinate(a, t.get("params") or {}) for t in rows]})
    return {"kind": "parallel_coordinates", "empty": False, "objective": objective, "dimensions": dims,
            "trials": [int(t["number"]) for t in rows], "feasible": [feasible(t) for t in rows]}


def _range(values: list[float], axis: dict[str, Any] | None = None) -> list[float] | None:
    lo = [axis["low"]] if axis and finite(axis.get("low")) else []
    hi = [axis["high"]] if axis and finite(axis.get("high")) else []
    if not values and not lo:
        return None
    return [float(min(values + lo)), float(max(values + hi))]


def slices(data: StudyData, objective: int = 0, after: int | None = None) -> dict[str, Any]:
    """Per parameter, the objective against the parameter's value (trials that have it)."""
    done = scored(data)
    if not done:
        return _empty("slice", "no completed trials yet", params=[])
    out = []
    for a in axes(data):
        pts = []
        for t in done:
            c = coordinate(a, t.get("params") or {})
            if c is not None and (after is None or int(t["number"]) >= after):
                pts.append({"number": int(t["number"]), "x": c, "y": float(t["values"][objective]),
                            "feasible": feasible(t)})
        out.append({**_axis_info(a), "points": pts})
    return {"kind": "slice", "empty": False, "objective": objective, "objective_name": objective_names(data)[objective],
            "params": out}


def dominates(dirs: list[str], a: list[float], b: list[float]) -> bool:
    """``a`` is at least as good as ``b`` on every objective and better on one."""
    at_least = all(not better(d, y, x) for d, x, y in zip(dirs, a, b, strict=True))
    return at_least and any(better(d, x, y) for d, x, y in zip(dirs, a, b, strict=True))


def pareto_front(data: StudyData) -> dict[str, Any]:
    """Feasible non-dominated scored trials (for one objective: the best feasible trial(s)),
    with the dominated and infeasible ones for the scatter."""
    dirs, done = directions(data), scored(data)
    base = {"kind": "pareto_front", "objective_names": objective_names(data), "directions": dirs}
    if not done:
        return _empty("pareto_front", "no completed trials yet", objective_names=objective_names(data),
                      directions=dirs, front=[], dominated=[], infeasible=[])
    ok = [t for t in done if feasible(t)]
    front = [t for t in ok if not any(dominates(dirs, o["values"], t["values"]) for o in ok if o is not t)]
    ids = {int(t["number"]) for t in front}

    def row(t: dict[str, Any]) -> dict[str, Any]:
        return {"number": int(t["number"]), "values": [float(v) for v in t["values"]]}

    out = {**base, "empty": False, "front": sorted((row(t) for t in front), key=lambda r: r["values"]),
           "dominated": [row(t) for t in ok if int(t["number"]) not in ids],
           "infeasible": [row(t) for t in done if not feasible(t)]}
    if not ok:
        out["message"] = "no feasible trial: the front is empty"
    return out


def fixed_trials(data: StudyData) -> int:
    """How many leading trials (numbers 0, 1, ...) are finished: they will not change."""
    n = 0
    for t in trials(data):
        if int(t["number"]) != n or t.get("state") not in FINISHED:
            break
        n += 1
    return n


def all_plots(data: StudyData, after: int | None = None) -> dict[str, Any]:
    """Every plot for the UI; with ``after`` the per-trial plots hold only trials >= after."""
    multi = len(directions(data)) > 1
    changed = [t for t in trials(data) if after is None or int(t["number"]) >= after]
    return {
        "study_id": data.get("study_id"), "after": after, "fixed_trials": fixed_trials(data),
        "n_trials": len(data.get("trials") or []), "states": _states(data),
        "trials": [int(t["number"]) for t in changed],
        "history": history(data, after), "intermediate": intermediate(data, after),
        "parallel_coordinates": parallel_coordinates(data, 0, after), "slice": slices(data, 0, after),
        "importance": importance(data), "contour": contour(data),
        "pareto_front": pareto_front(data) if multi else _empty("pareto_front", "single-objective study"),
    }


def _states(data: StudyData) -> dict[str, int]:
    out = {s: 0 for s in ("asked", "running", "complete", "pruned", "failed")}
    for t in data.get("trials") or []:
        out[t.get("state", "asked")] = out.get(t.get("state", "asked"), 0) + 1
    return out


# ---------------------------------------------------------------- CSV export
def _duration(t: dict[str, Any]) -> str:
    try:
        a = datetime.fromisoformat(str(t["started_at"]).replace("Z", "+00:00"))
        b = datetime.fromisoformat(str(t["ended_at"]).replace("Z", "+00:00"))
    except (KeyError, TypeError, ValueError):
        return ""
    return f"{(b - a).total_seconds():g}"


def _cell(v: Any) -> Any:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    return v


def trials_csv(data: StudyData) -> str:
    """One row per trial: number, state, one ``value_<objective>`` column per objective,
    feasible, ``constraint_<i>``, ``params_<path>`` (empty when inactive), times, duration, job,
    the last intermediate step and value."""
    ts = trials(data)
    names = objective_names(data)
    n_con = max([len(t.get("constraints") or []) for t in ts] + [0])
    params = [a["path"] for a in axes(data)]
    head = (["number", "state"] + [f"value_{n}" for n in names] + ["feasible"]
            + [f"constraint_{i}" for i in range(n_con)] + [f"params_{p}" for p in params]
            + ["started_at", "ended_at", "duration_s", "job", "last_step", "last_intermediate"])
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(head)
    for t in ts:
        vals = t.get("values") or []
        cons = t.get("constraints") or []
        iv = sorted((int(s), v) for s, v in (t.get("intermediate") or {}).items())
        w.writerow([t["number"], t.get("state", "")] + [_cell(vals[i] if i < len(vals) else None)
                                                          for i in range(len(names))]
                   + [_cell(t.get("feasible"))] + [_cell(cons[i] if i < len(cons) else None) for i in range(n_con)]
                   + [_cell((t.get("params") or {}).get(p)) for p in params]
                   + [_cell(t.get("started_at")), _cell(t.get("ended_at")), _duration(t), _cell(t.get("job")),
                      _cell(iv[-1][0] if iv else None), _cell(iv[-1][1] if iv else None)])
    return buf.getvalue()
