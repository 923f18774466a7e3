"""The product's study loop, in memory, for ``bench/hpo.py``: what a user's study does, minus jobs.

A ``MemoryStudy`` holds a real study aggregate (``domain.studies.study``: ``StudyRequested`` and
every command through ``decide``/``evolve``) and asks its points the way the search workflow's Ask
step does (``runtime.sampler.next_points``: an optuna study rebuilt from the trials at each ask,
seeded per study and round, the engine's sampler settings for the strategy). Rounds are the
workflow's: ``parallelism`` trials asked together, the next round once they have all ended.
Pruning decisions come from the engine's ``OptunaSampler.prune`` over the intermediate values the
trial reported (keyed by training step, as jobs report them). So the bench measures the settings
users get, not a hand-built optuna study.
"""

from __future__ import annotations

from typing import Any

from domain.studies import events as ev
from domain.studies import study as sd
from domain.studies.space import Param
from runtime import sampler as sampler_port


def float_param(path: str, low: float, high: float, log: bool = False) -> Param:
    return Param(path=path, kind="float", low=low, high=high, log=log)


class MemoryStudy:
    def __init__(self, space: list[Param], *, strategy: str, seed: int, max_trials: int, direction: str = "minimize",
                 target: float | None = None, parallelism: int = 1, pruner: dict[str, Any] | None = None,
                 intermediate: dict[str, Any] | None = None, name: str = "bench",
                 enqueued: list[dict[str, Any]] | None = None) -> None:  # fmt: skip
        req = ev.StudyRequested(
            study_id=f"{name}-{strategy}-{seed}", project_id="bench", name=name, space=[p.to_dict() for p in space],
            strategy=strategy, objectives=[{"name": "objective", "expression": "objective", "direction": direction}],
            intermediate=intermediate, pruner=pruner, max_trials=max_trials, target=target, parallelism=parallelism,
            seed=seed, config_id="bench", config_version=1, family="bert", base_values={}, dataset_id="bench",
            run_id="bench", enqueued=list(enqueued or []),
        )  # fmt: skip
        self.state = sd.STUDIES.fold([req])

    def do(self, cmd: Any) -> None:
        self.state = sd.STUDIES.fold(sd.STUDIES.decide(self.state, cmd), self.state)

    def stop_reason(self) -> str | None:
        return self.state.stop_reason(0.0)

    def ask(self) -> list[tuple[int, dict[str, Any]]]:
        """The next round's trials (number, params), marked running; [] once the study stops."""
        st = self.state
        if self.stop_reason():
            return []
        n = min(st.parallelism, st.max_trials - len(st.trials))
        round_ = st.rounds + 1
        points = sampler_port.next_points(st, n, round_)
        self.do(sd.AskTrials(round=round_, points=[p["params"] for p in points],
                             sources=[p["source"] for p in points], attrs=[p["attrs"] for p in points]))  # fmt: skip
        out = []
        for t in self.state.round_trials(round_):
            self.do(sd.MarkRunning(number=t.number, jobs=[f"bench-{t.number}"]))
            out.append((t.number, dict(t.params)))
        return out

    def complete(self, number: int, value: float) -> None:
        self.do(sd.Complete(number=number, values=[float(value)]))

    def report(self, number: int, step: int, value: float) -> bool:
        """Record an intermediate value; True when the engine's pruner stops the trial (recorded as pruned)."""
        self.do(sd.Report(number=number, values={str(step): float(value)}))
        if self.state.requested is None or self.state.requested.pruner is None:
            return False
        prune, attrs = sampler_port.optuna_sampler().prune(self.state, number)
        if attrs:
            self.do(sd.Report(number=number, values={}, attrs=attrs))
        if prune:
            self.do(sd.Prune(number=number, step=step, value=float(value)))
        return prune


def run_function(space: list[Param], f: Any, *, strategy: str, seed: int, max_trials: int,
                 target: float | None = None, parallelism: int = 1, name: str = "bench") -> list[float]:  # fmt: skip
    """Objective values in trial order of a minimising study of ``f(params)`` that stops on its
    budget or on reaching ``target`` (the study's own target stop)."""
    study = MemoryStudy(space, strategy=strategy, seed=seed, max_trials=max_trials, target=target,
                        parallelism=parallelism, name=name)  # fmt: skip
    values: list[float] = []
    while batch := study.ask():
        for number, params in batch:
            v = float(f(params))
            study.complete(number, v)
            values.append(v)
    return values
