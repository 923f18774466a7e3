"""Metrics and lineage on every model, a leaderboard per project and dataset, and a side-by-side
comparison of two models.

Where the numbers come from: a model trained by TLM has ``source = "training-run:<training id>"``;
its training (``training.registered``) holds the evaluation on the dataset's test split (accuracy,
macro-F1, confusion matrix) and the training metrics; ``training.requested`` holds the lineage
(dataset, config and version, the parent model a fine-tuning started from). A pretrained model
(``source = "pretrain-job:<job>"``) has lineage (template, datasets) and no test metrics; an
uploaded model has neither. Nothing new is stored: these are reads over the trainings' streams.

Leaderboard rows are the project's registered trainings on one dataset whose model still exists,
sorted by any numeric column (``-`` prefix for descending, the default for metrics).
"""

from __future__ import annotations

from typing import Any

from domain.configs.diff import diff_values
from domain.errors import Invalid, NotFound
from domain.trainings import TRAININGS, Training
from runtime.services.commands import Caller, load

TRAINED = "training-run:"
PRETRAINED = "pretrain-job:"
METRICS = ("test_accuracy", "macro_f1", "best_val_loss", "train_minutes", "parameters", "examples")


def _metrics(state: Training, duration_s: float | None = None) -> dict[str, Any]:
    ev, info = state.evaluation or {}, state.metrics or {}
    out: dict[str, Any] = {
        "test_accuracy": ev.get("accuracy"),
        "macro_f1": ev.get("macro_f1"),
        "confusion_matrix": ev.get("confusion_matrix"),
        "examples": ev.get("examples"),
        "best_val_loss": info.get("best_val_loss"),
        "parameters": info.get("parameters"),
        "stop_reason": info.get("stop_reason"),
        "steps": info.get("steps"),
    }
    if duration_s is not None:
        out["train_minutes"] = round(duration_s / 60, 2)
    return out


def _lineage(state: Training) -> dict[str, Any]:
    return {
        "training_id": state.training_id,
        "dataset_id": state.dataset_id,
        "config_id": state.config_id,
        "config_version": state.config_version,
        "parent_model_id": state.parent_model_id,
        "parent_model_version": state.parent_model_version,
    }


class LeaderboardService:
    def __init__(self, container: Any) -> None:
        self.c = container

    def _training_of(self, model: dict[str, Any]) -> Training | None:
        source = str(model.get("source") or "")
        if not source.startswith(TRAINED):
            return None
        state, _ = load(self.c.store, TRAININGS, source[len(TRAINED) :])
        return state if state.exists and state.model_id == model["model_id"] else None

    def annotate(self, model: dict[str, Any]) -> dict[str, Any]:
        """``model`` (a library doc or list item) with ``metrics`` and ``lineage`` added."""
        if model.get("kind", "model") != "model":
            return model
        state = self._training_of(model)
        if state is not None:
            return {**model, "metrics": _metrics(state), "lineage": _lineage(state)}
        source = str(model.get("source") or "")
        lineage = {"pretrain_job": source[len(PRETRAINED) :]} if source.startswith(PRETRAINED) else None
        return {**model, "metrics": None, "lineage": lineage}

    def annotate_page(self, page: dict[str, Any]) -> dict[str, Any]:
        return {**page, "items": [self.annotate(m) for m in page.get("items", [])]}

    def model(self, caller: Caller, model_id: str) -> dict[str, Any]:
        m = self.annotate(self.c.library.get_model(caller, model_id))
        return {"model_id": model_id, "name": m["name"], "metrics": m.get("metrics"), "lineage": m.get("lineage")}

    # ------------------------------------------------------------------ leaderboard
    def leaderboard(
        self, caller: Caller, project_id: str, *, dataset_id: str, sort: str = "-test_accuracy", limit: int = 50
    ) -> dict[str, Any]:
        self.c.library.access.require(caller, project_id, "viewer")
        key = sort.lstrip("-")
        if key not in METRICS:
            raise Invalid(f"cannot sort by {key!r}; one of {list(METRICS)}", field="sort")
        if not 1 <= limit <= 500:
            raise Invalid("must be from 1 to 500", field="limit")
        self.c.catch_up()
        live = {
            row["model_id"]: row
            for _, row in self.c.views.scan("models")
            if row["project_id"] == project_id and row.get("kind", "model") == "model"
        }
        rows = []
        for run in self.c.runs.list_runs(workflow="train"):
            state, _ = load(self.c.store, TRAININGS, run["run_id"])
            if not state.exists or state.project_id != project_id or state.dataset_id != dataset_id:
                continue
            if state.model_id is None or state.model_id not in live:
                continue
            rows.append({"model_id": state.model_id, "name": live[state.model_id]["name"], "family": state.family,
                         **{k: v for k, v in _metrics(state, run.get("duration_s")).items()
                            if k != "confusion_matrix"},
                         "lineage": _lineage(state)})  # fmt: skip
        desc = sort.startswith("-")
        present = [r for r in rows if isinstance(r.get(key), (int, float))]
        missing = [r for r in rows if not isinstance(r.get(key), (int, float))]
        present.sort(key=lambda r: r[key], reverse=desc)
        ranked = present + missing  # rows without the metric last, whatever the direction
        for i, r in enumerate(ranked, 1):
            r["rank"] = i
        return {"project_id": project_id, "dataset_id": dataset_id, "sort": sort, "items": ranked[:limit],
                "total": len(ranked)}  # fmt: skip

    # ------------------------------------------------------------------ compare
    def _config_values(self, caller: Caller, lineage: dict[str, Any] | None) -> dict[str, Any] | None:
        if not lineage or not lineage.get("config_id"):
            return None
        try:
            cfg = self.c.configs.get(caller, lineage["config_id"], version=lineage["config_version"])
        except NotFound:
            return None
        return cfg["values"]  # type: ignore[no-any-return]

    def compare(self, caller: Caller, model_id: str, other_id: str) -> dict[str, Any]:
        a = self.annotate(self.c.library.get_model(caller, model_id))
        b = self.annotate(self.c.library.get_model(caller, other_id))
        ma, mb = a.get("metrics") or {}, b.get("metrics") or {}
        metrics = {}
        for k in ("test_accuracy", "macro_f1", "best_val_loss", "parameters", "examples"):
            va, vb = ma.get(k), mb.get(k)
            delta = vb - va if isinstance(va, (int, float)) and isinstance(vb, (int, float)) else None
            metrics[k] = {"a": va, "b": vb, "delta": delta}
        ca, cb = self._config_values(caller, a.get("lineage")), self._config_values(caller, b.get("lineage"))
        config_diff = [c.model_dump() for c in diff_values(ca, cb)] if ca is not None and cb is not None else None
        def side(m: dict[str, Any]) -> dict[str, Any]:
            confusion = (m.get("metrics") or {}).get("confusion_matrix")
            return {"model_id": m["model_id"], "name": m["name"], "family": m["family"],
                    "lineage": m.get("lineage"), "confusion_matrix": confusion}  # fmt: skip

        return {"a": side(a), "b": side(b), "metrics": metrics, "config_diff": config_diff}
