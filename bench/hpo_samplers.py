"""Trials-to-target of the engine's samplers against random search (part 1 of ``bench/hpo.py``).

Every run is a real study of the product, in memory (``bench/hpo_study.py``: the study aggregate,
the search workflow's rounds, ``runtime.sampler.next_points`` with the engine's settings for the
strategy), so the figures are what a user's ``--strategy tpe|gp|cmaes|random`` study does.

Problems: BBOB functions from ``cocoex`` (instance 1, box [-5, 5]^d) and a real cheap objective,
the 3-fold cross-validated error of an RBF SVM on scikit-learn's bundled ``load_digits`` (log C,
log gamma). Everything is minimised.

Target, per problem: the median, over ``calib`` *separate* random-search seeds (not the measured
ones), of random search's best value after ``depth`` trials; so random needs about ``depth``
trials by construction, and the target is deeper than any sampler's start-up trials (a target
random meets in ~15 trials says nothing about a model-based sampler: it is still sampling at
random then). Each measured study runs with that target as its stop (the study's own ``target``)
and a budget of ``cap = cap_factor * depth`` trials, the same for every sampler, so random's runs
are rarely censored; a run that never reaches the target is counted as ``cap`` and reported.
Ratio per problem = median(sampler) / median(random); the headline ratio is the geometric mean
over problems.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable
from typing import Any

from hpo_study import float_param, run_function

SAMPLERS = ("random", "tpe", "gp", "cmaes")


class Problem:
    def __init__(self, name: str, bounds: list[tuple[float, float, bool]], f: Callable[[list[float]], float],
                 depth: int, keep: Any = None):  # fmt: skip
        self.name, self.bounds, self.f, self.depth = name, bounds, f, depth
        self.keep = keep  # a cocoex problem is only valid while its suite lives
        self.space = [float_param(f"x{i}", lo, hi, log) for i, (lo, hi, log) in enumerate(bounds)]

    def run(self, sampler: str, seed: int, cap: int, target: float | None = None, parallel: int = 1) -> list[float]:
        """Values of the study's trials, in order (it stops at the target or after ``cap``)."""
        n = len(self.bounds)
        return run_function(self.space, lambda p: self.f([p[f"x{i}"] for i in range(n)]), strategy=sampler,
                            seed=seed, max_trials=cap, target=target, parallelism=parallel, name=self.name)


def bbob_problems(dims: list[int], functions: list[int], depth: int) -> list[Problem]:
    import cocoex

    suite = cocoex.Suite("bbob", "", f"dimensions:{','.join(map(str, dims))} instance_indices:1")
    out = []
    for d in dims:
        for fn in functions:  # get_problem_*: an iterated suite frees each problem at the next one
            p = suite.get_problem_by_function_dimension_instance(fn, d, 1)
            bounds = [(float(lo), float(hi), False) for lo, hi in zip(p.lower_bounds, p.upper_bounds, strict=True)]
            out.append(Problem(f"bbob-f{fn}-d{d}", bounds, p, depth, keep=suite))
    return out


def svm_digits_problem(depth: int) -> Problem:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.svm import SVC

    x, y = load_digits(return_X_y=True)
    x = x / 16.0
    folds = StratifiedKFold(n_splits=3, shuffle=True, random_state=0)

    def f(p: list[float]) -> float:
        return 1.0 - float(cross_val_score(SVC(C=p[0], gamma=p[1]), x, y, cv=folds).mean())

    return Problem("sklearn-svc-digits-3fold", [(1e-3, 1e3, True), (1e-5, 10.0, True)], f, depth)


def trials_to_target(values: list[float], target: float) -> int | None:
    for i, v in enumerate(values, start=1):
        if v <= target:
            return i
    return None


def measure(problem: Problem, *, seeds: int, calib: int, cap_factor: float, samplers: tuple[str, ...],
            parallel: int, log: Callable[[str], None]) -> dict[str, Any]:  # fmt: skip
    t0 = time.perf_counter()
    depth = problem.depth
    cap = int(cap_factor * depth)
    calib_best = [min(problem.run("random", 10_000 + s, depth)) for s in range(calib)]
    target = statistics.median(calib_best)
    res: dict[str, Any] = {"target": target, "depth": depth, "cap": cap, "seeds": seeds, "samplers": {}}
    for name in samplers:
        hits, secs = [], []
        for s in range(seeds):
            t = time.perf_counter()
            hits.append(trials_to_target(problem.run(name, s, cap, target, parallel), target))
            secs.append(time.perf_counter() - t)
        counted = [h if h is not None else cap for h in hits]
        res["samplers"][name] = {"trials": hits, "median_trials": statistics.median(counted),
                                 "censored": sum(h is None for h in hits), "seconds": round(sum(secs), 1)}
    if "random" in res["samplers"]:
        base = res["samplers"]["random"]["median_trials"]
        for name in samplers:
            if name != "random":
                res["samplers"][name]["vs_random"] = round(res["samplers"][name]["median_trials"] / base, 3)
    res["seconds"] = round(time.perf_counter() - t0, 1)
    log(f"{problem.name}: target {target:.6g} (depth {depth}, cap {cap}); " + "; ".join(
        f"{n} median {r['median_trials']} {r.get('vs_random', '')} (censored {r['censored']}/{seeds}, {r['seconds']} s)"
        for n, r in res["samplers"].items()))  # fmt: skip
    return res


def geomean(xs: list[float]) -> float | None:
    xs = [x for x in xs if x > 0]
    return round(math.exp(sum(map(math.log, xs)) / len(xs)), 3) if xs else None


def problems_for(quick: bool) -> tuple[list[Problem], dict[str, int]]:
    if quick:
        return bbob_problems([5], [1, 8, 15], 60) + [svm_digits_problem(30)], {"seeds": 5, "calib": 5}
    return bbob_problems([2, 5], [1, 8, 15, 21], 100) + [svm_digits_problem(50)], {"seeds": 5, "calib": 7}


def run_all(*, quick: bool, log: Callable[[str], None], problems: str = "", samplers: str = "",
            seeds: int | None = None, cap_factor: float = 3.0, parallel: int = 1) -> dict[str, Any]:  # fmt: skip
    """``problems``: comma-separated substrings of problem names to keep (all when empty);
    ``samplers``: comma-separated strategies (random is always run: it is the reference)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    chosen, sizes = problems_for(quick)
    if problems:
        chosen = [p for p in chosen if any(s in p.name for s in problems.split(","))]
    names = tuple(dict.fromkeys(["random", *[s for s in samplers.split(",") if s]])) if samplers else SAMPLERS
    n_seeds = seeds or sizes["seeds"]
    per = {p.name: measure(p, seeds=n_seeds, calib=sizes["calib"], cap_factor=cap_factor, samplers=names,
                           parallel=parallel, log=log) for p in chosen}  # fmt: skip
    ratios = {n: geomean([r["samplers"][n]["vs_random"] for r in per.values()]) for n in names if n != "random"}
    censored = {n: sum(r["samplers"][n]["censored"] for r in per.values()) for n in names}
    return {"ratios": ratios, "censored_runs": censored, "runs_per_sampler": n_seeds * len(per), "seeds": n_seeds,
            "calibration_seeds": sizes["calib"], "cap_factor": cap_factor, "parallel": parallel, "problems": per}
