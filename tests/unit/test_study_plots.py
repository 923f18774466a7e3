"""Study plots as JSON (``runtime.services.study_plots``) over hand-built StudyData: best-so-far
by direction with infeasible trials excluded, pruned/failed/running trials, conditional and
categorical axes, importance, contour, Pareto front, CSV, ``after=N`` and the empty study."""

from __future__ import annotations

import ast
import csv
import io
import json
import sys
from pathlib import Path

import pytest

from runtime.services import study_importance, study_plots
from tests.study_examples import empty_study, multi_objective, single_objective

pytestmark = pytest.mark.unit
LR, LAYERS, SCHED, WARMUP = ("training.learning_rate", "architecture.num_hidden_layers", "training.lr_schedule",
                             "training.warmup_ratio")


def test_history_best_so_far_follows_the_direction_and_skips_infeasible_trials():
    data = single_objective()
    h = study_plots.history(data)
    obj = h["objectives"][0]
    # Only complete trials are points (5 pruned, 6 failed, 13 running, 14 asked are not)
    assert [p["number"] for p in obj["points"]] == [0, 1, 2, 3, 4, 7, 8, 9, 10, 11, 12]
    assert next(p for p in obj["points"] if p["number"] == 3) == {"number": 3, "value": 0.99, "feasible": False}
    # Best so far: the running maximum of the feasible trials; infeasible 0.99 never becomes the best
    feasible_vals = [p["value"] for p in obj["points"] if p["feasible"]]
    assert [b["value"] for b in obj["best"]][-1] == max(feasible_vals)
    assert all(b["value"] < 0.99 for b in obj["best"])
    assert all(a["value"] <= b["value"] for a, b in zip(obj["best"], obj["best"][1:], strict=False))
    # Minimizing the same values: the best is the running minimum
    data["directions"] = ["minimize"]
    best = study_plots.history(data)["objectives"][0]["best"]
    assert best[-1]["value"] == min(feasible_vals)
    assert all(a["value"] >= b["value"] for a, b in zip(best, best[1:], strict=False))


def test_intermediate_values_sorted_by_numeric_step_with_pruned_marked():
    data = single_objective()
    data["trials"][0]["intermediate"] = {"10": 0.5, "2": 0.3, "1": 0.1}
    rows = {r["number"]: r for r in study_plots.intermediate(data)["trials"]}
    assert rows[0]["steps"] == [1, 2, 10] and rows[0]["values"] == [0.1, 0.3, 0.5]
    assert rows[5]["pruned"] is True and rows[5]["state"] == "pruned"
    assert rows[13]["state"] == "running" and not rows[13]["pruned"]
    assert 6 not in rows and 14 not in rows  # nothing reported


def test_parallel_coordinates_categorical_indices_log_flag_and_inactive_conditionals():
    pc = study_plots.parallel_coordinates(single_objective())
    dims = {d["name"]: d for d in pc["dimensions"]}
    assert pc["dimensions"][0]["kind"] == "objective" and pc["dimensions"][0]["direction"] == "maximize"
    assert dims[LR]["log"] is True and dims[LAYERS]["log"] is False
    assert dims[SCHED]["labels"] == ["linear", "cosine", "constant"] and dims[SCHED]["range"] == [0.0, 2.0]
    by_trial = dict(zip(pc["trials"], zip(dims[SCHED]["values"], dims[WARMUP]["values"], strict=True), strict=True))
    assert by_trial[1] == (1.0, 0.05)  # cosine: index 1, with its conditional warmup
    assert by_trial[0] == (0.0, None)  # linear: warmup does not exist
    assert pc["feasible"][pc["trials"].index(3)] is False
    assert all(len(d["values"]) == len(pc["trials"]) for d in pc["dimensions"])


def test_importance_ranks_the_parameter_that_drives_the_objective_first_and_is_deterministic():
    data = single_objective()
    imp = study_plots.importance(data)
    params = imp["objectives"][0]["params"]
    assert params[0]["name"] == LR and params[0]["importance"] > 0.5
    assert abs(sum(p["importance"] for p in params) - 1.0) < 1e-9
    assert study_plots.importance(single_objective()) == imp


def test_omega_squared_is_near_zero_for_a_grouping_that_explains_nothing():
    y = [float((i * 37) % 11) for i in range(60)]
    noise_groups = [(i * 13) % 5 for i in range(60)]
    signal_groups = [v > 5 for v in y]
    assert study_importance.omega_squared(noise_groups, y) < 0.1
    assert study_importance.omega_squared(signal_groups, y) > 0.6
    assert study_importance.omega_squared([0] * 60, y) == 0.0


def test_contour_grid_is_a_convex_interpolation_of_the_trials():
    c = study_plots.contour(single_objective())
    assert not c["empty"] and c["x"]["name"] == LR  # the most important parameter first
    assert len(c["z"]) == len(c["y"]["grid"]) and all(len(r) == len(c["x"]["grid"]) for r in c["z"])
    zs = [p["z"] for p in c["points"]]
    assert all(min(zs) - 1e-12 <= v <= max(zs) + 1e-12 for r in c["z"] for v in r)
    assert c["x"]["log"] is True and c["x"]["grid"][0] == pytest.approx(min(p["x"] for p in c["points"]))


def test_pareto_front_holds_feasible_non_dominated_trials_only():
    pf = study_plots.pareto_front(multi_objective())
    assert [r["number"] for r in pf["front"]] == [0, 1, 2]
    assert [r["number"] for r in pf["dominated"]] == [3]
    assert [r["number"] for r in pf["infeasible"]] == [4]  # would dominate everything, but infeasible
    hist = study_plots.history(multi_objective())
    assert [o["direction"] for o in hist["objectives"]] == ["maximize", "minimize"]
    assert hist["objectives"][1]["best"][-1]["value"] == 2.0  # 1.0 is the infeasible trial's
    assert study_plots.all_plots(single_objective())["pareto_front"]["empty"] is True


def test_after_returns_only_changed_trials_with_best_so_far_from_the_whole_study():
    data = single_objective()
    full, inc = study_plots.all_plots(data), study_plots.all_plots(data, after=10)
    assert full["fixed_trials"] == 13  # 0-12 finished; 13 is running
    assert inc["trials"] == [10, 11, 12, 13, 14]
    assert [p["number"] for p in inc["history"]["objectives"][0]["points"]] == [10, 11, 12]
    assert inc["history"]["objectives"][0]["best"] == full["history"]["objectives"][0]["best"][-3:]
    assert {r["number"] for r in inc["intermediate"]["trials"]} == {10, 11, 12, 13}
    assert inc["parallel_coordinates"]["trials"] == [10, 11, 12]
    assert inc["importance"] == full["importance"]  # aggregates stay whole
    json.dumps(inc, allow_nan=False)


def test_trials_csv_has_a_row_per_trial_and_empty_cells_for_inactive_params():
    rows = list(csv.DictReader(io.StringIO(study_plots.trials_csv(single_objective()))))
    assert len(rows) == 15
    assert rows[1]["params_training.warmup_ratio"] == "0.05" and rows[0]["params_training.warmup_ratio"] == ""
    assert rows[3]["feasible"] == "false" and rows[3]["constraint_0"] == "3.0"
    assert rows[5]["state"] == "pruned" and rows[5]["last_step"] == "1" and rows[5]["value_val_accuracy"] == ""
    assert rows[0]["duration_s"] == "30" and rows[14]["started_at"] == ""
    multi = list(csv.DictReader(io.StringIO(study_plots.trials_csv(multi_objective()))))
    assert multi[0]["value_val_accuracy"] == "0.8" and multi[0]["value_latency_ms_b1"] == "2.0"


def test_an_empty_study_gives_empty_plots_with_a_reason():
    out = study_plots.all_plots(empty_study())
    for key in ("history", "intermediate", "parallel_coordinates", "slice", "importance", "contour", "pareto_front"):
        assert out[key]["empty"] is True and out[key]["message"], key
    assert out["fixed_trials"] == 0 and out["trials"] == []
    assert study_plots.trials_csv(empty_study()).count("\n") == 1  # the header only
    only_failed = empty_study() | {"trials": [{"number": 0, "state": "failed", "params": {}, "values": None}]}
    assert study_plots.all_plots(only_failed)["history"]["empty"] is True


def test_plot_modules_import_only_the_standard_library_and_runtime():
    root = Path(study_plots.__file__).parent
    allowed = set(sys.stdlib_module_names) | {"runtime"}
    for name in ("study_plots.py", "study_plot_data.py", "study_importance.py"):
        tree = ast.parse((root / name).read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            mods = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            for m in mods:
                assert m.split(".")[0] in allowed, f"{name} imports {m}"
