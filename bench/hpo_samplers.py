"""Trials-to-target of optuna's samplers against random search (part 1 of ``bench/hpo.py``).

Problems: BBOB functions from ``cocoex`` (instance 1, box [-5, 5]^d) and a real cheap objective,
the 3-fold cross-validated error of an RBF SVM on scikit-learn's bundled ``load_digits`` (log C,
log gamma). Everything is minimised.

Target, per problem: the median, over ``calib`` *separate* random-search seeds (not the measured
ones, so random is not judged against its own runs), of random search's best value after
``budget // 2`` trials. Each sampler then runs ``budget`` trials per seed; its trials-to-target is
the first trial number (1-based) whose value is <= the target. A run that never reaches it is
*censored* and counted as ``budget`` (so a sampler's median is a lower bound when a run is
censored; the counts are reported). Ratio per problem = median(sampler) / median(random); the
headline ratio is the geometric mean over problems.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable
from typing import Any

SAMPLERS = ("random", "tpe", "gp", "cmaes")


def make_sampler(name: str, seed: int):
    import optuna

    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "tpe":
        return optuna.samplers.TPESampler(multivariate=True, seed=seed)
    if name == "gp":
        return optuna.samplers.GPSampler(seed=seed)
    if name == "cmaes":
        return optuna.samplers.CmaEsSampler(seed=seed)
    raise ValueError(name)


class Problem:
    def __init__(self, name: str, bounds: list[tuple[float, float, bool]], f: Callable[[list[float]], float],
                 keep: Any = None):
        self.name, self.bounds, self.f = name, bounds, f
        self.keep = keep  # a cocoex problem is only valid while its suite lives

    def run(self, sampler: str, seed: int, budget: int) -> list[float]:
        """Values of ``budget`` trials, in order."""
        import optuna

        study = optuna.create_study(sampler=make_sampler(sampler, seed), direction="minimize")
        values: list[float] = []

        def objective(trial) -> float:
            x = [trial.suggest_float(f"x{i}", lo, hi, log=log) for i, (lo, hi, log) in enumerate(self.bounds)]
            v = float(self.f(x))
            values.append(v)
            return v

        study.optimize(objective, n_trials=budget)
        return values


def bbob_problems(dims: list[int], functions: list[int]) -> list[Problem]:
    import cocoex

    suite = cocoex.Suite("bbob", "", f"dimensions:{','.join(map(str, dims))} instance_indices:1")
    out = []
    for d in dims:
        for fn in functions:  # get_problem_*: an iterated suite frees each problem at the next one
            p = suite.get_problem_by_function_dimension_instance(fn, d, 1)
            bounds = [(float(lo), float(hi), False) for lo, hi in zip(p.lower_bounds, p.upper_bounds, strict=True)]
            out.append(Problem(f"bbob-f{fn}-d{d}", bounds, p, keep=suite))
    return out


def svm_digits_problem() -> Problem:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.svm import SVC

    x, y = load_digits(return_X_y=True)
    x = x / 16.0
    folds = StratifiedKFold(n_splits=3, shuffle=True, random_state=0)

    def f(p: list[float]) -> float:
        return 1.0 - float(cross_val_score(SVC(C=p[0], gamma=p[1]), x, y, cv=folds).mean())

    return Problem("sklearn-svc-digits-3fold", [(1e-3, 1e3, True), (1e-5, 10.0, True)], f)


def trials_to_target(values: list[float], target: float) -> int | None:
    for i, v in enumerate(values, start=1):
        if v <= target:
            return i
    return None


def measure(problem: Problem, *, seeds: int, budget: int, calib: int, log: Callable[[str], None]) -> dict[str, Any]:
    t0 = time.perf_counter()
    half = budget // 2
    calib_best = [min(problem.run("random", 10_000 + s, half)) for s in range(calib)]
    target = statistics.median(calib_best)
    res: dict[str, Any] = {"target": target, "budget": budget, "seeds": seeds, "samplers": {}}
    for name in SAMPLERS:
        hits, secs = [], []
        for s in range(seeds):
            t = time.perf_counter()
            hits.append(trials_to_target(problem.run(name, s, budget), target))
            secs.append(time.perf_counter() - t)
        counted = [h if h is not None else budget for h in hits]
        res["samplers"][name] = {"trials": hits, "median_trials": statistics.median(counted),
                                 "censored": sum(h is None for h in hits), "seconds": round(sum(secs), 1)}
    base = res["samplers"]["random"]["median_trials"]
    for name in SAMPLERS[1:]:
        res["samplers"][name]["vs_random"] = round(res["samplers"][name]["median_trials"] / base, 3)
    res["seconds"] = round(time.perf_counter() - t0, 1)
    log(f"{problem.name}: target {target:.6g}; " + "; ".join(
        f"{n} median {r['median_trials']} (censored {r['censored']}/{seeds})" for n, r in res["samplers"].items()))
    return res


def geomean(xs: list[float]) -> float | None:
    xs = [x for x in xs if x > 0]
    return round(math.exp(sum(map(math.log, xs)) / len(xs)), 3) if xs else None


def run_all(*, quick: bool, log: Callable[[str], None]) -> dict[str, Any]:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if quick:
        problems = bbob_problems([2], [1, 8, 15]) + [svm_digits_problem()]
        seeds, budget, calib = 5, 40, 5
    else:
        problems = bbob_problems([2, 5], [1, 8, 15, 21]) + [svm_digits_problem()]
        seeds, budget, calib = 5, 60, 7
    per = {p.name: measure(p, seeds=seeds, budget=budget, calib=calib, log=log) for p in problems}
    ratios = {n: geomean([r["samplers"][n]["vs_random"] for r in per.values()]) for n in SAMPLERS[1:]}
    censored = {n: sum(r["samplers"][n]["censored"] for r in per.values()) for n in SAMPLERS}
    return {"ratios": ratios, "censored_runs": censored, "runs_per_sampler": seeds * len(per),
            "seeds": seeds, "budget": budget, "calibration_seeds": calib, "problems": per}
