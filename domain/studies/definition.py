"""What a study is asked to do, checked before anything is written: strategy, objectives with
directions, constraints, pruner, budget and parallelism. Each problem is ``Invalid`` naming the
field (``strategy``, ``objectives[0].expression``, ``constraints[1]``, ``pruner.kind``, ...).
"""

from __future__ import annotations

import math
from typing import Any

from domain.errors import Invalid
from domain.jobs import METRIC_NAMES
from domain.studies.expressions import Constraint, Expression, parse_constraint, parse_expression

STRATEGIES = ("grid", "random", "cv-grid", "cv-random", "gp", "tpe", "cmaes", "sobol", "nsga2")
MULTI_OBJECTIVE = ("random", "nsga2", "tpe", "grid", "sobol", "cv-grid", "cv-random", "gp")
PRUNERS = ("none", "median", "percentile", "asha", "hyperband")
DIRECTIONS = ("maximize", "minimize")
# metrics a trial has: what its training job reports, plus `parameters` (counted from its config)
METRICS = frozenset(METRIC_NAMES) | {"parameters", "best_val_loss"}
MAX_PARALLEL = 16
MAX_TRIALS = 1000
MAX_WALL_S = 7 * 24 * 3600
MAX_OBJECTIVES = 4
MAX_CONSTRAINTS = 8
MAX_FOLDS = 10
PRUNER_OPTIONS: dict[str, dict[str, tuple[float, float]]] = {
    "median": {"n_startup_trials": (0, 1000), "n_warmup_steps": (0, 10**7)},
    "percentile": {"percentile": (0.0, 100.0), "n_startup_trials": (0, 1000), "n_warmup_steps": (0, 10**7)},
    "asha": {"min_resource": (1, 10**7), "reduction_factor": (2, 100)},
    "hyperband": {"min_resource": (1, 10**7), "max_resource": (1, 10**7), "reduction_factor": (2, 100)},
    "none": {},
}


def check_strategy(strategy: Any, n_objectives: int) -> str:
    if strategy not in STRATEGIES:
        raise Invalid(f"unknown strategy {strategy!r}; expected one of {list(STRATEGIES)}", field="strategy")
    if n_objectives > 1 and strategy not in MULTI_OBJECTIVE:
        raise Invalid(f"{strategy} optimises one objective; use nsga2 for several", field="strategy")
    return str(strategy)


def objectives(raw: Any) -> list[dict[str, Any]]:
    """``[{"expression", "direction", "name"}]`` from strings (``"val_accuracy"``,
    ``"maximize:val_accuracy"``, ``"val_accuracy:maximize"``) or mappings."""
    items = raw if isinstance(raw, list) else [raw]
    if not items or len(items) > MAX_OBJECTIVES:
        raise Invalid(f"give 1 to {MAX_OBJECTIVES} objectives", field="objectives")
    out = []
    for i, item in enumerate(items):
        where = f"objectives[{i}]"
        if isinstance(item, str):
            text, direction = item, "maximize"
            for d in DIRECTIONS:
                if item.startswith(d + ":"):
                    text, direction = item[len(d) + 1 :], d
                elif item.endswith(":" + d):
                    text, direction = item[: -len(d) - 1], d
        elif isinstance(item, dict):
            text, direction = str(item.get("expression") or ""), item.get("direction", "maximize")
        else:
            raise Invalid("an objective is an expression or {expression, direction}", field=where)
        if direction not in DIRECTIONS:
            raise Invalid(f"direction must be one of {list(DIRECTIONS)}", field=f"{where}.direction")
        expr = parse_expression(str(text or ""), METRICS, field=f"{where}.expression")
        name = item.get("name") if isinstance(item, dict) and item.get("name") else expr.text
        out.append({"expression": expr.text, "direction": direction, "name": str(name)[:100]})
    return out


def constraints(raw: Any) -> list[str]:
    items = raw or []
    if not isinstance(items, list) or len(items) > MAX_CONSTRAINTS:
        raise Invalid(f"at most {MAX_CONSTRAINTS} constraints, as a list", field="constraints")
    return [parse_constraint(str(c), METRICS, field=f"constraints[{i}]").text for i, c in enumerate(items)]


def pruner(raw: Any) -> dict[str, Any] | None:
    if raw is None:
        return None
    spec = {"kind": raw} if isinstance(raw, str) else raw
    if not isinstance(spec, dict) or spec.get("kind") not in PRUNERS:
        raise Invalid(f"pruner kind must be one of {list(PRUNERS)}", field="pruner.kind")
    kind = spec["kind"]
    if kind == "none":
        return None
    allowed: dict[str, tuple[float, float]] = PRUNER_OPTIONS[kind]
    out: dict[str, Any] = {"kind": kind}
    for key, value in spec.items():
        if key == "kind":
            continue
        if key not in allowed:
            raise Invalid(f"unknown option {key!r} for the {kind} pruner", field=f"pruner.{key}")
        lo, hi = allowed[key]
        ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
        if not ok or not lo <= value <= hi or (isinstance(lo, int) and not isinstance(value, int)):
            raise Invalid(f"must be a number from {lo} to {hi}", field=f"pruner.{key}")
        out[key] = value
    return out


def intermediate(raw: Any, objs: list[dict[str, Any]]) -> dict[str, Any]:
    """The metric the pruner watches (a metric the job reports at steps) and its direction;
    default: the first objective when it is a bare metric name, else ``val_accuracy``."""
    if raw is None:
        first = objs[0]
        metric = first["expression"] if first["expression"] in METRIC_NAMES else "val_accuracy"
        direction = first["direction"] if metric == first["expression"] else "maximize"
        return {"metric": metric, "direction": direction}
    if not isinstance(raw, dict) or raw.get("metric") not in METRIC_NAMES:
        raise Invalid(f"the intermediate metric must be one of {list(METRIC_NAMES)}", field="intermediate.metric")
    direction = raw.get("direction", "maximize")
    if direction not in DIRECTIONS:
        raise Invalid(f"direction must be one of {list(DIRECTIONS)}", field="intermediate.direction")
    return {"metric": raw["metric"], "direction": direction}


def bounded(value: Any, lo: int, hi: int, field: str, *, optional: bool = False) -> int | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise Invalid(f"must be an integer from {lo} to {hi}", field=field)
    return value


def evaluate(objs: list[dict[str, Any]], cons: list[str], metrics: dict[str, float]) -> tuple[
        list[float], list[float], bool] | str:  # fmt: skip
    """(objective values, constraint values, feasible) of a trial's metrics, or why not."""
    exprs: list[Expression] = [parse_expression(o["expression"], METRICS) for o in objs]
    values = []
    for o, e in zip(objs, exprs, strict=True):
        v = e.evaluate(metrics)
        if v is None:
            missing = sorted(m for m in e.metrics if m not in metrics)
            return f"objective {o['name']!r} is undefined" + (f" (no {', '.join(missing)})" if missing else "")
        values.append(v)
    parsed: list[Constraint] = [parse_constraint(c, METRICS) for c in cons]
    cvals = []
    for c in parsed:
        v = c.evaluate(metrics)
        cvals.append(v if v is not None else math.inf)  # undefined: infeasible
    return values, cvals, all(v <= 0 for v in cvals)
