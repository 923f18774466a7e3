"""Every strategy asks valid points for a conditional space, round after round without repeating
itself; the optuna study is rebuilt from the events only (no optuna storage)."""

from __future__ import annotations

import pytest

from domain.studies import events as ev
from domain.studies import study as sd
from domain.studies.space import parse_space
from runtime.sampler import next_points

pytestmark = pytest.mark.unit
pytest.importorskip("optuna")
SPACE = {
    "training.learning_rate": {"type": "float", "low": 1e-4, "high": 1e-2, "log": True},
    "training.lr_schedule": {"type": "categorical", "choices": ["linear", "cosine"]},
    "training.warmup_ratio": {"type": "float", "low": 0.0, "high": 0.2, "step": 0.1,
                              "when": {"training.lr_schedule": "linear"}},
    "model.num_hidden_layers": {"type": "int", "low": 1, "high": 3},
}  # fmt: skip
GRID_SPACE = {**SPACE, "training.learning_rate": {"type": "float", "low": 1e-3, "high": 3e-3, "step": 1e-3}}


def study(strategy: str, space: dict, *, objectives: int = 1, enqueued=(), warm=()) -> sd.Study:
    parsed = parse_space(space, "bert")
    objs = [{"expression": "val_accuracy", "direction": "maximize", "name": "acc"},
            {"expression": "parameters", "direction": "minimize", "name": "size"}][:objectives]  # fmt: skip
    req = ev.StudyRequested(study_id="s", project_id="p", name="n", space=parsed.to_list(), strategy=strategy,
                            objectives=objs, max_trials=100, config_id="c", config_version=1, family="bert",
                            base_values={}, dataset_id="d", run_id="s", seed=7, enqueued=list(enqueued),
                            warm_start=list(warm), pruner={"kind": "median"},
                            intermediate={"metric": "val_accuracy", "direction": "maximize"})  # fmt: skip
    return sd.STUDIES.fold([req])


def run_rounds(st: sd.Study, rounds: int, per_round: int = 2) -> sd.Study:
    space = parse_space(SPACE, "bert")
    for r in range(1, rounds + 1):
        pts = next_points(st, per_round, r)
        cmd = sd.AskTrials(round=r, points=[p["params"] for p in pts], sources=[p["source"] for p in pts],
                           attrs=[p["attrs"] for p in pts])  # fmt: skip
        for e in sd.STUDIES.decide(st, cmd):
            st = sd.STUDIES.evolve(st, e)
        for t in st.round_trials(r):
            lr, layers = t.params["training.learning_rate"], t.params["architecture.num_hidden_layers"]
            values = [1.0 - abs(lr - 3e-3) * 50 - 0.01 * layers, float(layers)][: len(st.directions)]
            for e in sd.STUDIES.decide(st, sd.Complete(number=t.number, values=values)):
                st = sd.STUDIES.evolve(st, e)
    del space
    return st


@pytest.mark.parametrize(("strategy", "objectives"), [("random", 1), ("cv-random", 1), ("tpe", 1), ("cmaes", 1),
                                                      ("sobol", 1), ("nsga2", 2)])  # fmt: skip
def test_every_strategy_asks_valid_points_for_a_conditional_space(strategy, objectives):
    st = run_rounds(study(strategy, SPACE, objectives=objectives), rounds=5)
    space = parse_space(SPACE, "bert")
    assert len(st.trials) == 10
    for t in st.trials:
        space.check_point(t.params)  # active params only, each in range
    distinct = len({repr(sorted(t.params.items())) for t in st.trials})
    assert distinct >= (6 if strategy == "nsga2" else 9)  # a fresh seed per round (NSGA-II children may repeat)


@pytest.mark.slow  # GPSampler fits a Gaussian process with torch (a few seconds)
def test_gp_asks_valid_points_after_its_startup_trials():
    st = run_rounds(study("gp", SPACE), rounds=3)
    space = parse_space(SPACE, "bert")
    for t in st.trials:
        space.check_point(t.params)


def test_grid_asks_each_point_of_the_product_once_then_is_exhausted():
    st = study("grid", GRID_SPACE)
    total = len(parse_space(GRID_SPACE, "bert").grid())
    seen = []
    r = 0
    while pts := next_points(st, 4, r + 1):
        r += 1
        for e in sd.STUDIES.decide(st, sd.AskTrials(round=r, points=[p["params"] for p in pts])):
            st = sd.STUDIES.evolve(st, e)
        seen += [repr(sorted(p["params"].items())) for p in pts]
    assert len(seen) == total == len(set(seen)) == 3 * 3 * (3 + 1)  # lr x layers x (linear x 3 warmups + cosine)


def test_enqueued_points_come_first_and_warm_start_trials_inform_the_sampler():
    point = {"training.learning_rate": 3e-3, "training.lr_schedule": "cosine", "architecture.num_hidden_layers": 1}
    warm = [{"params": point, "values": [0.99]}]
    st = study("tpe", SPACE, enqueued=[point], warm=warm)
    pts = next_points(st, 3, 1)
    assert pts[0] == {"params": point, "source": "enqueued", "attrs": {}}
    assert [p["source"] for p in pts[1:]] == ["sampler", "sampler"]


def test_pruners_decide_from_the_intermediate_values_in_events():
    from runtime.adapters.optuna_sampler.sampler import OptunaSampler

    for kind in ("median", "percentile", "asha", "hyperband"):
        st = study("random", SPACE)
        st = sd.STUDIES.evolve(st, st.requested.model_copy(update={"pruner": {"kind": kind}}))  # redefine
        points = [p["params"] for p in next_points(st, 5, 1)]
        for e in sd.STUDIES.decide(st, sd.AskTrials(round=1, points=points)):
            st = sd.STUDIES.evolve(st, e)
        for n in range(4):  # four good trials, each watched by the pruner as it ran, then finished
            st = sd.STUDIES.evolve(
                st, ev.TrialReported(number=n, values={str(s): 0.8 + 0.01 * s for s in range(1, 10)})
            )
            _, attrs = OptunaSampler().prune(st, n)  # ASHA / Hyperband record the rungs it reached
            st = sd.STUDIES.evolve(st, ev.TrialReported(number=n, values={}, attrs=attrs))
            st = sd.STUDIES.evolve(st, ev.TrialCompleted(number=n, values=[0.9]))
        st = sd.STUDIES.evolve(st, ev.TrialReported(number=4, values={str(s): 0.1 for s in range(1, 10)}))
        prune, _ = OptunaSampler().prune(st, 4)
        assert prune, kind
