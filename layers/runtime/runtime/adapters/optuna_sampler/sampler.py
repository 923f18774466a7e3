"""optuna behind the ``Sampler`` port, with the study's event stream as its only storage.

At each ask an in-memory optuna study is rebuilt from the study's trials (``create_trial`` +
``add_trial`` with each trial's distributions, values, constraints, intermediate values and the
sampler's own bookkeeping attrs the events kept), a sampler is built afresh with a seed derived
from the study's seed and the round (a ``TPESampler(seed=s)`` built afresh with the same seed
would repeat its points every round), and the new trials' params and attrs are returned for the
``study.trial_asked`` events. No optuna database exists anywhere.

Strategies: random and cv-random (``RandomSampler``), tpe (``TPESampler(multivariate, group, consider_endpoints)``:
grouped for conditional spaces), gp (``GPSampler``, needs torch + scipy), cmaes (``CmaEsSampler``,
the ``cmaes`` package; its state lives in the trials' attrs), nsga2 (``NSGAIISampler``), sobol
(scrambled Sobol points from ``scipy.stats.qmc``, continued across rounds by the trial count,
conditional parameters read from the same point). Warm start: another study's completed trials
are added as completed trials first.

Pruners (median, percentile, asha = successive halving, hyperband) run on a single-objective
rebuild whose trials carry the intermediate values (so multi-objective studies are pruned too):
``prune`` tells whether the running trial should stop, and returns ASHA's rung bookkeeping to keep.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import optuna
from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import TrialState, create_trial

from domain.studies.space import Param, SearchSpace
from domain.studies.study import Study, Trial

optuna.logging.set_verbosity(optuna.logging.WARNING)
warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
_STATES = {"complete": TrialState.COMPLETE, "pruned": TrialState.PRUNED, "failed": TrialState.FAIL,
           "asked": TrialState.RUNNING, "running": TrialState.RUNNING}  # fmt: skip
_PRUNER_ATTRS = "completed_rung_"


def seed_for(seed: int, round_: int) -> int:
    """A fresh, reproducible seed per study and round."""
    return (seed * 1_000_003 + round_ * 7_919 + 17) % (2**31 - 1)


def distribution(p: Param) -> BaseDistribution:
    if p.kind == "categorical":
        return CategoricalDistribution(list(p.choices or ()))
    assert p.low is not None and p.high is not None
    if p.kind == "int":
        return IntDistribution(int(p.low), int(p.high), log=p.log, step=int(p.step or 1))
    return FloatDistribution(float(p.low), float(p.high), log=p.log, step=p.step)


def _sampler(strategy: str, seed: int, n_objectives: int) -> optuna.samplers.BaseSampler:
    if strategy in ("random", "cv-random", "sobol", "grid", "cv-grid"):
        return optuna.samplers.RandomSampler(seed=seed)
    if strategy == "tpe":
        # consider_endpoints: the Parzen kernels at the box's edges get the distance to the edge as
        # bandwidth, so TPE keeps exploring (bench/hpo.py, BBOB 2-D+5-D, 5 seeds: geomean trials vs
        # random 0.29 -> 0.25; the multimodal f21-d2 1.60 -> 0.44; the sphere f1-d2 0.22 -> 0.51).
        # optuna deprecated the option in 4.9 (removal in 6.0; pinned 5.0.0): drop it when moving to 6.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            return optuna.samplers.TPESampler(seed=seed, multivariate=True, group=True, n_startup_trials=4,
                                              constant_liar=True, consider_endpoints=True)  # fmt: skip
    if strategy == "gp":
        return optuna.samplers.GPSampler(seed=seed, n_startup_trials=4, warn_independent_sampling=False)
    if strategy == "cmaes":
        return optuna.samplers.CmaEsSampler(seed=seed, n_startup_trials=2, warn_independent_sampling=False)
    if strategy == "nsga2":
        return optuna.samplers.NSGAIISampler(seed=seed, population_size=4)
    raise ValueError(f"no sampler for strategy {strategy!r}")


def _frozen(space: SearchSpace, params: dict[str, Any], state: TrialState, *, values: list[float] | None = None,
            intermediate: dict[str, float] | None = None, attrs: dict[str, Any] | None = None) -> Any:  # fmt: skip
    dists = {p.path: distribution(p) for p in space.params if p.path in params}
    kept = {k: v for k, v in params.items() if k in dists}
    return create_trial(
        state=state, params=kept, distributions=dists, values=values,
        intermediate_values={int(k): float(v) for k, v in (intermediate or {}).items()},
        system_attrs=dict(attrs or {}),
    )  # fmt: skip


def _attrs(t: Trial) -> dict[str, Any]:
    out = dict(t.attrs)
    for i, c in enumerate(t.constraints or ()):
        out[f"constraints:c{i}"] = float(c) if math.isfinite(c) else 1e300
    return out


def _name(study_id: str) -> str:
    """A fixed optuna study name: HyperbandPruner assigns trials to brackets by a hash of the study's
    name and the trial number, so a generated (random) name would move trials between brackets at
    every rebuild."""
    return f"tlm-study-{study_id}"


def rebuild(study: Study, sampler: optuna.samplers.BaseSampler | None = None) -> optuna.Study:
    """The optuna study the events describe (in memory)."""
    req = study.requested
    assert req is not None
    space = SearchSpace.from_list(req.space)
    opt = optuna.create_study(study_name=_name(req.study_id), directions=[o["direction"] for o in req.objectives],
                              sampler=sampler)  # fmt: skip
    for w in req.warm_start:
        opt.add_trial(_frozen(space, w["params"], TrialState.COMPLETE, values=list(w["values"])))
    for t in study.trials:
        state = _STATES[t.state]
        values = list(t.values) if state == TrialState.COMPLETE and t.values is not None else None
        opt.add_trial(_frozen(space, t.params, state, values=values, intermediate=t.intermediate, attrs=_attrs(t)))
    return opt


def suggest(trial: optuna.Trial, space: SearchSpace) -> dict[str, Any]:
    """The trial's point: each parameter whose condition holds, in space order."""
    point: dict[str, Any] = {}
    for p in space.params:
        if p.parent is not None and not (p.parent in point and point[p.parent] == p.equals):
            continue
        if p.kind == "categorical":
            point[p.path] = trial.suggest_categorical(p.path, list(p.choices or ()))
        elif p.kind == "int":
            assert p.low is not None and p.high is not None
            point[p.path] = trial.suggest_int(p.path, int(p.low), int(p.high), step=int(p.step or 1), log=p.log)
        else:
            assert p.low is not None and p.high is not None
            point[p.path] = trial.suggest_float(p.path, p.low, p.high, step=p.step, log=p.log)
    return point


class OptunaSampler:
    def ask(self, study: Study, n: int, round_: int) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        req = study.requested
        assert req is not None
        space = SearchSpace.from_list(req.space)
        if req.strategy == "sobol":
            return [(p, {}) for p in sobol_points(space, req.seed, len(study.trials), n)]
        seed = seed_for(req.seed, round_)
        opt = rebuild(study, _sampler(req.strategy, seed, len(req.objectives)))
        out = []
        for _ in range(n):
            trial = opt.ask()
            point = suggest(trial, space)
            attrs = {k: v for k, v in opt._storage.get_trial_system_attrs(trial._trial_id).items()
                     if not k.startswith("constraints")}  # fmt: skip
            out.append((space.check_point(point), attrs))
        return out

    def prune(self, study: Study, number: int) -> tuple[bool, dict[str, Any]]:
        req = study.requested
        assert req is not None and req.pruner is not None and req.intermediate is not None
        space = SearchSpace.from_list(req.space)
        opt = optuna.create_study(study_name=_name(req.study_id), direction=req.intermediate["direction"],
                                  pruner=pruner(req.pruner))  # fmt: skip
        by_report = req.pruner["kind"] in BY_REPORT
        current_id = None
        for t in study.trials:
            attrs = {k: v for k, v in t.attrs.items() if k.startswith(_PRUNER_ATTRS)}
            curve = resource_curve(t.intermediate) if by_report else t.intermediate
            if t.number == number:
                opt.add_trial(_frozen(space, t.params, TrialState.RUNNING, intermediate=curve, attrs=attrs))
                current_id = opt.trials[-1]._trial_id
            elif t.state in ("complete", "pruned") and t.intermediate:
                last = t.last_value() or 0.0
                state = TrialState.COMPLETE if t.state == "complete" else TrialState.PRUNED
                opt.add_trial(_frozen(space, t.params, state, values=[last] if state == TrialState.COMPLETE else None,
                                      intermediate=curve, attrs=attrs))  # fmt: skip
            elif t.state == "running" and t.intermediate:
                opt.add_trial(_frozen(space, t.params, TrialState.RUNNING, intermediate=curve, attrs=attrs))
        if current_id is None:
            return False, {}
        frozen = opt._storage.get_trial(current_id)
        if frozen.last_step is None:
            return False, {}
        decision = bool(opt.pruner.prune(opt, frozen))
        after = opt._storage.get_trial_system_attrs(current_id)
        new = {k: v for k, v in after.items() if k.startswith(_PRUNER_ATTRS) and frozen.system_attrs.get(k) != v}
        return decision, new


BY_REPORT = ("asha", "hyperband")


def resource_curve(intermediate: dict[str, float]) -> dict[str, float]:
    """A trial's intermediate values keyed by report (1, 2, ...: the validations the job reported, one
    per epoch by default) instead of training step: ASHA and Hyperband count their resource (``min_resource``,
    rungs at ``min_resource * reduction_factor**k``) in the job's reports, so rungs fall on epochs whatever
    the steps per epoch (keyed by step, a first report at step 19 passed the rungs at 1, 3 and 9 at once)."""
    return {str(i): intermediate[k] for i, k in enumerate(sorted(intermediate, key=int), start=1)}


def pruner(spec: dict[str, Any]) -> optuna.pruners.BasePruner:
    kind = spec["kind"]
    opts = {k: v for k, v in spec.items() if k != "kind"}
    if kind == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=opts.get("n_startup_trials", 2),
                                           n_warmup_steps=opts.get("n_warmup_steps", 0))  # fmt: skip
    if kind == "percentile":
        return optuna.pruners.PercentilePruner(opts.get("percentile", 25.0),
                                               n_startup_trials=opts.get("n_startup_trials", 2),
                                               n_warmup_steps=opts.get("n_warmup_steps", 0))  # fmt: skip
    if kind == "asha":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=opts.get("min_resource", 1),
                                                      reduction_factor=opts.get("reduction_factor", 3))  # fmt: skip
    if kind == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=opts.get("min_resource", 1),
                                              max_resource=opts.get("max_resource", "auto"),
                                              reduction_factor=opts.get("reduction_factor", 3))  # fmt: skip
    raise ValueError(f"no pruner {kind!r}")


def sobol_points(space: SearchSpace, seed: int, start: int, n: int) -> list[dict[str, Any]]:
    """Points ``start .. start+n-1`` of the study's scrambled Sobol sequence, one dimension per
    parameter (an inactive conditional parameter's coordinate is unused)."""
    from scipy.stats import qmc

    engine = qmc.Sobol(d=len(space.params), scramble=True, seed=seed)
    if start:
        engine.fast_forward(start)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "balance properties" warning for n not a power of 2
        cube = engine.random(n)
    out = []
    for row in cube:
        point: dict[str, Any] = {}
        for p, u in zip(space.params, row, strict=True):
            if p.parent is not None and not (p.parent in point and point[p.parent] == p.equals):
                continue
            point[p.path] = _from_unit(p, float(u))
        out.append(space.check_point(point))
    return out


def _from_unit(p: Param, u: float) -> Any:
    if p.kind == "categorical":
        choices = list(p.choices or ())
        return choices[min(int(u * len(choices)), len(choices) - 1)]
    assert p.low is not None and p.high is not None
    lo, hi = float(p.low), float(p.high)
    x = math.exp(math.log(lo) + u * (math.log(hi) - math.log(lo))) if p.log else lo + u * (hi - lo)
    if p.kind == "int":
        step = int(p.step or 1)
        k = max(0, min(round((x - lo) / step), int(hi - lo) // step))
        return int(lo) + k * step
    if p.step:
        k = min(round((x - lo) / p.step), int(math.floor((hi - lo) / p.step + 1e-9)))
        return round(lo + k * p.step, 12)
    return min(max(x, lo), hi)
