"""The leaderboard and model metrics read the trainings' streams (real SQLite event store; the
library, views and runs are small hand-written fakes)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from domain.errors import Invalid
from domain.trainings import TRAININGS, RecordRegistration, RequestTraining
from runtime.adapters.sqlite.db import Database
from runtime.adapters.sqlite.event_store import SqliteEventStore
from runtime.services.commands import Caller, execute
from runtime.services.leaderboard import LeaderboardService

pytestmark = pytest.mark.unit
ALICE = Caller(user_id="alice")


class Views:
    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.rows = rows

    def scan(self, table: str) -> list[tuple[str, dict[str, Any]]]:
        return [(r["model_id"], r) for r in self.rows] if table == "models" else []


@pytest.fixture
def board(tmp_path):  # type: ignore[no-untyped-def]
    store = SqliteEventStore(Database(tmp_path / "tlm.db", synchronous="OFF"))
    runs: list[dict[str, Any]] = []
    rows: list[dict[str, Any]] = []

    def train(tid: str, model: str, acc: float | None, f1: float, dataset: str = "d1", parent: str | None = None):
        execute(store, TRAININGS, tid, RequestTraining(
            training_id=tid, project_id="p1", name=model, config_id="c1", config_version=2, family="bert",
            dataset_id=dataset, run_id=tid, parent_model_id=parent, parent_model_version=1 if parent else None,
        ), ALICE)  # fmt: skip
        ev = {"accuracy": acc, "macro_f1": f1, "examples": 10,
              "confusion_matrix": {"labels": ["n", "p"], "rows_true_cols_pred": [[4, 1], [1, 4]]}}  # fmt: skip
        execute(store, TRAININGS, tid, RecordRegistration(model_id=model, evaluation=ev,
                                                          metrics={"best_val_loss": 1 - f1}), ALICE)  # fmt: skip
        runs.append({"run_id": tid, "status": "succeeded", "duration_s": 90.0})
        rows.append({"model_id": model, "project_id": "p1", "name": model.upper(), "kind": "model",
                     "source": f"training-run:{tid}"})  # fmt: skip

    c = SimpleNamespace(
        store=store, views=Views(rows), runs=SimpleNamespace(list_runs=lambda workflow: list(runs)),
        library=SimpleNamespace(access=SimpleNamespace(require=lambda *a: None),
                                get_model=lambda caller, mid: next(r for r in rows if r["model_id"] == mid)),
        catch_up=lambda: None,
    )  # fmt: skip
    train("t1", "m1", 0.80, 0.70)
    train("t2", "m2", 0.90, 0.60, parent="pre")
    train("t3", "m3", None, 0.65)  # an evaluation without accuracy
    train("t4", "m4", 0.99, 0.99, dataset="d2")  # another dataset
    return LeaderboardService(c), rows


def test_ranked_by_any_metric_with_missing_values_last(board) -> None:  # type: ignore[no-untyped-def]
    svc, _ = board
    by_acc = svc.leaderboard(ALICE, "p1", dataset_id="d1")
    assert [(r["rank"], r["model_id"]) for r in by_acc["items"]] == [(1, "m2"), (2, "m1"), (3, "m3")]
    assert by_acc["items"][0]["lineage"]["parent_model_id"] == "pre" and by_acc["items"][0]["train_minutes"] == 1.5
    assert [r["model_id"] for r in svc.leaderboard(ALICE, "p1", dataset_id="d1", sort="-macro_f1")["items"]] == [
        "m1", "m3", "m2"]  # fmt: skip
    assert [r["model_id"] for r in svc.leaderboard(ALICE, "p1", dataset_id="d1", sort="best_val_loss")["items"]] == [
        "m1", "m3", "m2"]  # fmt: skip
    assert svc.leaderboard(ALICE, "p1", dataset_id="d1", limit=1)["total"] == 3
    with pytest.raises(Invalid) as e:
        svc.leaderboard(ALICE, "p1", dataset_id="d1", sort="-vibes")
    assert e.value.field == "sort"


def test_deleted_models_leave_the_board_and_annotations_name_the_training(board) -> None:  # type: ignore[no-untyped-def]
    svc, rows = board
    rows[:] = [r for r in rows if r["model_id"] != "m2"]  # m2 deleted
    assert [r["model_id"] for r in svc.leaderboard(ALICE, "p1", dataset_id="d1")["items"]] == ["m1", "m3"]
    m1 = svc.annotate(next(r for r in rows if r["model_id"] == "m1"))
    assert m1["metrics"]["test_accuracy"] == 0.80 and m1["metrics"]["confusion_matrix"]["labels"] == ["n", "p"]
    assert m1["lineage"] == {"training_id": "t1", "dataset_id": "d1", "config_id": "c1", "config_version": 2,
                             "parent_model_id": None, "parent_model_version": None}  # fmt: skip
    forged = svc.annotate({"model_id": "mX", "kind": "model", "source": "training-run:t1"})  # not t1's model
    assert forged["metrics"] is None and forged["lineage"] is None
