"""Search spaces, objective/constraint expressions and the study aggregate (pure)."""

from __future__ import annotations

import math

import pytest

from domain.errors import Conflict, Invalid
from domain.studies import definition as dfn
from domain.studies import events as ev
from domain.studies import study as sd
from domain.studies.expressions import parse_constraint, parse_expression
from domain.studies.space import parse_space

pytestmark = pytest.mark.unit
M = dfn.METRICS


def test_grid_enumerates_exactly_the_product_with_conditional_children():
    space = parse_space({
        "training.lr_schedule": {"type": "categorical", "choices": ["linear", "cosine", "constant"]},
        "training.warmup_ratio": {"type": "float", "low": 0.0, "high": 0.2, "step": 0.1,
                                  "when": {"training.lr_schedule": "linear"}},
        "model.num_hidden_layers": {"type": "int", "low": 1, "high": 2},
        "training.batch_size": {"type": "categorical", "choices": [16, 32]},
    }, "bert")  # fmt: skip
    points = space.grid()
    # linear: 3 warmups x 2 layers x 2 batches; cosine, constant: 2 x 2 each
    assert len(points) == 12 + 4 + 4
    assert len({repr(sorted(p.items())) for p in points}) == len(points)
    for p in points:
        assert ("training.warmup_ratio" in p) == (p["training.lr_schedule"] == "linear")
        space.check_point(p)
    assert sorted({p["training.warmup_ratio"] for p in points if "training.warmup_ratio" in p}) == [0.0, 0.1, 0.2]


@pytest.mark.parametrize(
    ("space", "field"),
    [
        ({"training.learning_rat": {"type": "float", "low": 0.1, "high": 0.2}}, "space.training.learning_rat"),
        ({"optimizer.lr": {"type": "float", "low": 0.1, "high": 0.2}}, "space.optimizer.lr"),
        ({"training.learning_rate": {"type": "float", "low": 0.2, "high": 0.1}}, "space.training.learning_rate.low"),
        (
            {"training.learning_rate": {"type": "float", "low": 0.0, "high": 0.1, "log": True}},
            "space.training.learning_rate.low",
        ),
        ({"training.learning_rate": {"type": "float", "low": 0.1, "high": 2.0}}, "space.training.learning_rate.high"),
        ({"training.batch_size": {"type": "float", "low": 1, "high": 8}}, "space.training.batch_size.type"),
        (
            {"training.lr_schedule": {"type": "categorical", "choices": ["linear", "exp"]}},
            "space.training.lr_schedule.choices[1]",
        ),
        ({"training.lr_schedule": {"type": "categorical", "choices": []}}, "space.training.lr_schedule.choices"),
        (
            {
                "training.warmup_ratio": {
                    "type": "float",
                    "low": 0.0,
                    "high": 0.2,
                    "when": {"training.lr_schedule": "x"},
                }
            },
            "space.training.warmup_ratio.when",
        ),
        ({"training.epochs": {"type": "int", "low": 1, "high": 3, "step": 0.5}}, "space.training.epochs.step"),
        ({"training.epochs": {"type": "int", "low": 1, "high": 3, "scale": 2}}, "space.training.epochs.scale"),
        ({}, "space"),
    ],
)
def test_bad_spaces_name_the_path(space, field):
    with pytest.raises(Invalid) as e:
        parse_space(space, "bert")
    assert e.value.field == field


def test_model_paths_are_architecture_paths_of_the_family():
    assert parse_space({"model.d_model": {"type": "int", "low": 8, "high": 64}}, "xlnet").params[0].path == (
        "architecture.d_model"
    )
    with pytest.raises(Invalid):
        parse_space({"model.d_model": {"type": "int", "low": 8, "high": 64}}, "bert")


@pytest.mark.parametrize(
    ("text", "metrics", "value"),
    [
        ("val_accuracy", {"val_accuracy": 0.8}, 0.8),
        ("val_accuracy - 0.01 * log(parameters)", {"val_accuracy": 0.8, "parameters": math.e**2}, 0.78),
        ("-min(val_loss, 2) + max(1, 2, 3) / 2", {"val_loss": 0.5}, 1.0),
        ("(val_accuracy + test_accuracy) / 2", {"val_accuracy": 0.6, "test_accuracy": 0.8}, 0.7),
        ("1e-3 * parameters", {"parameters": 2000}, 2.0),
        ("val_accuracy / 0", {"val_accuracy": 1}, None),
        ("log(val_loss)", {"val_loss": 0}, None),
        ("val_accuracy", {}, None),
    ],
)
def test_expressions_evaluate_arithmetic_over_metrics(text, metrics, value):
    got = parse_expression(text, M).evaluate(metrics)
    assert got == pytest.approx(value) if value is not None else got is None


@pytest.mark.parametrize(
    "text",
    [
        "val_accuracy.__class__",
        "__import__('os')",
        "open(val_loss)",
        "val_accuracy[0]",
        "exp(val_loss)",
        "accuracy",
        "2 + 3",
        "val_loss ** 2",
        "lambda: 1",
        "val_loss; 1",
        "min",
        "val_loss val_loss",
        "'a'",
        "log(val_loss, 2)",
        "",
        "val_loss +",
        "(val_loss",
    ],
)
def test_the_parser_refuses_anything_but_arithmetic_over_metric_names(text):
    with pytest.raises(Invalid) as e:
        parse_expression(text, M, field="objectives[0].expression")
    assert e.value.field == "objectives[0].expression"


def test_constraints_are_feasible_at_or_below_zero():
    c = parse_constraint("parameters <= 5e6", M)
    assert c.evaluate({"parameters": 4e6}) == -1e6 and c.evaluate({"parameters": 6e6}) == 1e6
    assert parse_constraint("val_accuracy >= 0.8", M).evaluate({"val_accuracy": 0.9}) == pytest.approx(-0.1)
    with pytest.raises(Invalid):
        parse_constraint("parameters", M)
    assert dfn.evaluate([{"expression": "val_accuracy", "name": "a", "direction": "maximize"}],
                        ["latency_p50_ms <= 10"], {"val_accuracy": 0.9}) == ([0.9], [math.inf], False)  # fmt: skip


def _study(strategy="random", objectives=None, max_trials=4):
    space = parse_space({"training.learning_rate": {"type": "float", "low": 1e-4, "high": 1e-2, "log": True}}, "bert")
    objectives = objectives or [{"expression": "val_accuracy", "direction": "maximize", "name": "acc"}]
    req = ev.StudyRequested(study_id="s1", project_id="p", name="n", space=space.to_list(), strategy=strategy,
                            objectives=objectives, max_trials=max_trials, config_id="c", config_version=1,
                            family="bert", base_values={}, dataset_id="d", run_id="s1")  # fmt: skip
    return sd.STUDIES.fold([req])


def _apply(st, cmd):
    for e in sd.STUDIES.decide(st, cmd):
        st = sd.STUDIES.evolve(st, e)
    return st


def test_asks_are_keyed_by_round_and_a_finished_trial_ignores_later_tells():
    st = _apply(_study(), sd.AskTrials(round=1, points=[{"training.learning_rate": 1e-3}] * 2))
    assert sd.STUDIES.decide(st, sd.AskTrials(round=1, points=[{"training.learning_rate": 2e-3}])) == []
    with pytest.raises(Conflict):
        sd.STUDIES.decide(st, sd.AskTrials(round=3, points=[]))
    st = _apply(st, sd.Complete(number=0, values=[0.7]))
    assert sd.STUDIES.decide(st, sd.Complete(number=0, values=[0.9])) == []
    assert sd.STUDIES.decide(st, sd.Fail(number=0, reason="late")) == []
    st = _apply(st, sd.Report(number=1, values={"1": 0.5, "2": 0.6}))
    st = _apply(st, sd.Prune(number=1, step=2, value=0.6))
    assert st.trials[1].state == "pruned" and st.trials[1].last_value() == 0.6
    assert st.best().number == 0 and st.stop_reason(0) is None
    st = _apply(st, sd.ChangeSettings(max_trials=2))
    assert st.stop_reason(0) == "budget"


def test_pareto_front_excludes_infeasible_and_dominated_trials():
    objs = [{"expression": "val_accuracy", "direction": "maximize", "name": "a"},
            {"expression": "parameters", "direction": "minimize", "name": "p"}]  # fmt: skip
    st = _apply(_study("nsga2", objs), sd.AskTrials(round=1, points=[{"training.learning_rate": 1e-3}] * 4))
    st = _apply(st, sd.Complete(number=0, values=[0.9, 100]))
    st = _apply(st, sd.Complete(number=1, values=[0.8, 50]))
    st = _apply(st, sd.Complete(number=2, values=[0.7, 60]))  # dominated by 1
    st = _apply(st, sd.Complete(number=3, values=[0.99, 10], constraints=[1.0], feasible=False))
    assert [t.number for t in st.pareto_front()] == [0, 1]
    assert st.best().number == 0
