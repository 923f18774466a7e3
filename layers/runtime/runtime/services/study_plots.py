"""Study plots as JSON for the browser UI (and the data behind the PNG/SVG files).

Pure Python (stdlib ``math`` only): the core Lambda layer must stay light, so no numpy,
no optuna. Every function takes one ``StudyData`` dict, the shape agreed with the study
service (branch ``hpo``), and returns plain JSON-able dicts:

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

Entry points: ``all_plots(data, after=None)`` (every plot, or with ``after=N`` only the
trials changed since revision N, like optuna-dashboard's ``?after=``), ``history``,
``intermediate``, ``parallel_coordinates``, ``importance``, ``slices``, ``contour``,
``pareto_front`` and ``trials_csv(data) -> str``.
"""

from __future__ import annotations

from typing import Any

StudyData = dict[str, Any]
