"""``tlm models leaderboard|compare|metrics`` and the metrics/lineage part of ``models show``
and ``models list`` (``install(models_app)`` adds the commands; main.py's show/list call
``metrics_lines`` / ``accuracy_cell``)."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from tlm.cli.common import client, console, fail, out
from tlm.client import ApiError


def _f(v: Any, digits: int = 4) -> str:
    return f"{v:.{digits}f}" if isinstance(v, (int, float)) else "-"


def accuracy_cell(m: dict[str, Any]) -> str:
    return _f((m.get("metrics") or {}).get("test_accuracy"))


def lineage_text(lin: dict[str, Any] | None) -> str:
    if not lin:
        return "lineage: none recorded (uploaded)"
    if "pretrain_job" in lin:
        return f"lineage: pretrained by job {lin['pretrain_job']}"
    parent = f" from model {lin['parent_model_id']} v{lin['parent_model_version']}" if lin.get("parent_model_id") else \
        " from scratch"  # fmt: skip
    return (f"lineage: training {lin['training_id']}{parent} on dataset {lin['dataset_id']} "
            f"with config {lin['config_id']} v{lin['config_version']}")  # fmt: skip


def confusion_table(cm: dict[str, Any]) -> Table:
    tab = Table("true \\ predicted", *cm["labels"], title="confusion matrix (test split)")
    for label, row in zip(cm["labels"], cm["rows_true_cols_pred"], strict=True):
        tab.add_row(label, *map(str, row))
    return tab


def print_metrics(m: dict[str, Any]) -> None:
    """Metrics, confusion matrix and lineage of a model doc (``models show``)."""
    met = m.get("metrics") or {}
    if met.get("test_accuracy") is not None:
        console.print(f"test accuracy={_f(met['test_accuracy'])} macro_f1={_f(met.get('macro_f1'))} "
                      f"on {met.get('examples')} examples")  # fmt: skip
        if met.get("confusion_matrix"):
            console.print(confusion_table(met["confusion_matrix"]))
    console.print(escape(lineage_text(m.get("lineage"))))


def install(models_app: typer.Typer) -> None:
    @models_app.command("leaderboard")
    def leaderboard(
        dataset: Annotated[str, typer.Option("--dataset", help="dataset id")],
        project: Annotated[str | None, typer.Option("--project", help="project id (default: the dataset's)")] = None,
        sort: Annotated[str, typer.Option(help="metric, '-' for descending: test_accuracy, macro_f1, "
                                               "best_val_loss, train_minutes, parameters")] = "-test_accuracy",
        limit: Annotated[int, typer.Option()] = 50,
    ) -> None:  # fmt: skip
        """Trained models on one dataset, ranked by a metric."""
        c = client()
        try:
            project = project or c.dataset(dataset)["project_id"]
            res = c.request("GET", f"/projects/{project}/leaderboard",
                            params={"dataset_id": dataset, "sort": sort, "limit": limit})  # fmt: skip
        except ApiError as e:
            fail(e)
        t = Table("#", "model", "name", "family", "test_acc", "macro_f1", "val_loss", "minutes", "parent",
                  title=f"leaderboard: dataset {dataset} by {sort}")  # fmt: skip
        for r in res["items"]:
            t.add_row(str(r["rank"]), r["model_id"], escape(r["name"]), r["family"], _f(r.get("test_accuracy")),
                      _f(r.get("macro_f1")), _f(r.get("best_val_loss")), _f(r.get("train_minutes"), 2),
                      (r.get("lineage") or {}).get("parent_model_id") or "scratch")  # fmt: skip
        out(res, t)

    @models_app.command("compare")
    def compare(model_a: str, model_b: str) -> None:
        """Two models side by side: metrics (b - a), config diff, lineage."""
        try:
            res = client().request("GET", f"/models/{model_a}/compare/{model_b}")
        except ApiError as e:
            fail(e)

        def view() -> None:
            t = Table("metric", escape(res["a"]["name"]), escape(res["b"]["name"]), "b - a")
            for k, v in res["metrics"].items():
                t.add_row(k, _f(v["a"]), _f(v["b"]), _f(v["delta"]))
            console.print(t)
            if res["config_diff"] is not None:
                d = Table("config path", "a", "b", title="config diff")
                for ch in res["config_diff"]:
                    d.add_row(ch["path"], escape(str(ch.get("old"))), escape(str(ch.get("new"))))
                console.print(d if res["config_diff"] else "configs: identical")
            for side in ("a", "b"):
                console.print(f"{side}: " + escape(lineage_text(res[side]["lineage"])))

        out(res, view)
