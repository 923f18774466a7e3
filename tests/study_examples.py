"""Hand-built StudyData dicts (the shape in ``runtime.services.study_plots``) for plot tests."""

from __future__ import annotations

import math
from typing import Any

SPACE = [
    {"path": "training.learning_rate", "kind": "float", "low": 1e-5, "high": 1e-1, "log": True, "choices": None,
     "condition": None},
    {"path": "architecture.num_hidden_layers", "kind": "int", "low": 1, "high": 6, "log": False, "choices": None,
     "condition": None},
    {"path": "training.lr_schedule", "kind": "categorical", "low": None, "high": None, "log": False,
     "choices": ["linear", "cosine", "constant"], "condition": None},
    {"path": "training.warmup_ratio", "kind": "float", "low": 0.0, "high": 0.3, "log": False, "choices": None,
     "condition": {"parent": "training.lr_schedule", "equals": "cosine"}},
]


def trial(number: int, state: str, params: dict[str, Any], values: list[float] | None = None,
          feasible: bool | None = None, intermediate: dict[str, float] | None = None,
          constraints: list[float] | None = None) -> dict[str, Any]:
    return {"number": number, "state": state, "params": params, "values": values, "constraints": constraints,
            "feasible": feasible, "intermediate": intermediate or {},
            "started_at": f"2026-12-01T10:{number:02d}:00+00:00" if state != "asked" else None,
            "ended_at": f"2026-12-01T10:{number:02d}:30+00:00" if state in ("complete", "pruned", "failed") else None,
            "job": f"study-1-t{number}" if state != "asked" else None}


def single_objective() -> dict[str, Any]:
    """Accuracy (maximize) where the learning rate matters (peak near 1e-3) and the rest is noise;
    trial 3 is the highest value but infeasible; 5 pruned, 6 failed, 13 running, 14 asked."""
    scheds = ["linear", "cosine", "constant"]
    ts = []
    for i in range(13):
        lr = 10 ** (-5 + 4 * ((i * 7) % 13) / 12)
        sched = scheds[i % 3]
        params: dict[str, Any] = {"training.learning_rate": lr, "architecture.num_hidden_layers": 1 + i % 6,
                                  "training.lr_schedule": sched}
        if sched == "cosine":
            params["training.warmup_ratio"] = 0.05 * (i % 4)
        acc = 0.9 - 0.08 * (math.log10(lr) + 3) ** 2 + 0.002 * ((i * 5) % 3)
        curve = {str(e): acc - 0.1 / e for e in (1, 2, 3)}
        if i == 5:
            ts.append(trial(i, "pruned", params, intermediate={"1": 0.4}))
        elif i == 6:
            ts.append(trial(i, "failed", params))
        elif i == 3:
            ts.append(trial(i, "complete", params, [0.99], feasible=False, intermediate=curve, constraints=[3.0]))
        else:
            ts.append(trial(i, "complete", params, [acc], feasible=True, intermediate=curve, constraints=[-1.0]))
    ts.append(trial(13, "running", {"training.learning_rate": 1e-3, "architecture.num_hidden_layers": 2,
                                    "training.lr_schedule": "linear"}, intermediate={"1": 0.7}))
    ts.append(trial(14, "asked", {"training.learning_rate": 2e-3, "architecture.num_hidden_layers": 3,
                                  "training.lr_schedule": "constant"}))
    return {"study_id": "study-1", "directions": ["maximize"], "objective_names": ["val_accuracy"], "space": SPACE,
            "trials": ts}


def multi_objective() -> dict[str, Any]:
    """Maximize accuracy, minimize latency: trials 0-2 trade off (the front), 3 is dominated by 1,
    4 would dominate all but is infeasible, 5 pruned."""
    rows = [(0.80, 2.0), (0.85, 4.0), (0.90, 8.0), (0.84, 5.0), (0.95, 1.0)]
    ts = [trial(i, "complete", {"training.learning_rate": 1e-4 * (i + 1), "architecture.num_hidden_layers": i + 1,
                                "training.lr_schedule": "linear"}, [a, lat], feasible=i != 4)
          for i, (a, lat) in enumerate(rows)]
    ts.append(trial(5, "pruned", {"training.learning_rate": 1e-2, "architecture.num_hidden_layers": 1,
                                  "training.lr_schedule": "constant"}, intermediate={"1": 0.3}))
    return {"study_id": "study-2", "directions": ["maximize", "minimize"],
            "objective_names": ["val_accuracy", "latency_ms_b1"], "space": SPACE[:3], "trials": ts}


def empty_study() -> dict[str, Any]:
    return {"study_id": "study-0", "directions": ["minimize"], "objective_names": ["val_loss"], "space": SPACE,
            "trials": []}
