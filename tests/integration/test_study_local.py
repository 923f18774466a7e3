"""A study on the local platform (real SQLite, the real local workflow runner and job runner; a
fast stand-in for the training program, ``_fake_trial.py``): the one write starts the search
workflow, rounds of ``parallelism`` trials run as concurrent jobs, the median pruner stops trials
through ``JobRunner.stop``, and the study ends with the best trial's model registered and a new
version of its config carrying the best params. Bad input is a 422 naming the field, with nothing
written."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

import pytest

from domain.errors import Conflict, Invalid
from runtime.bootstrap import Container, build_local
from runtime.services.commands import Caller
from runtime.settings import Settings
from tests.integration._crash_reactions import dataset_dir

pytestmark = pytest.mark.integration
ALICE = Caller("alice")
FAKE = str(Path(__file__).with_name("_fake_trial.py"))
SPACE = {
    "training.learning_rate": {"type": "float", "low": 1e-4, "high": 3e-2, "log": True},
    "model.num_hidden_layers": {"type": "int", "low": 1, "high": 2},
    "training.lr_schedule": {"type": "categorical", "choices": ["linear", "constant"]},
    "training.warmup_ratio": {"type": "float", "low": 0.0, "high": 0.2, "when": {"training.lr_schedule": "linear"}},
}


def platform(tmp_path: Path) -> tuple[Container, str, str, str]:
    c = build_local(Settings(data_dir=tmp_path / "data"))
    c.jobs.register_program("train", FAKE)
    pid = c.library.create_project(ALICE, "p")["project_id"]
    did = c.artifacts.ingest_dir(ALICE, pid, dataset_dir(tmp_path / "src"), name="ds", family="other", kind="dataset")
    cid = c.configs.create_from_template(ALICE, pid, "bert-tiny")["config_id"]
    return c, pid, did, cid


def wait_finished(c: Container, study_id: str, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        c.catch_up()
        doc = c.studies.get(ALICE, study_id)
        if doc["finished_reason"] is not None:
            return doc
        assert time.monotonic() < deadline, doc
        time.sleep(0.3)


def stop_runs(c: Container) -> None:
    for row in c.project_runs.rows():
        if row["status"] in ("running", "cancelling"):
            with contextlib.suppress(Exception):
                c.workflows.cancel(row["run_id"], reason="test over")
            c.workflows.wait(row["run_id"], timeout=60)
    c.close()


@pytest.mark.slow  # ~10 s: 6 trial jobs (python subprocesses) in 3 rounds
def test_a_tpe_study_with_pruning_registers_its_best_trial(tmp_path):
    c, pid, did, cid = platform(tmp_path)
    try:
        # Given a TPE study over a conditional space with the median pruner, 6 trials, 2 at once
        doc = c.studies.start(ALICE, pid, name="search", config_id=cid, dataset_id=did, space=SPACE, strategy="tpe",
                              objectives=["val_accuracy:maximize"], constraints=["parameters <= 5e6"],
                              pruner={"kind": "median", "n_startup_trials": 2}, max_trials=6, parallelism=2,
                              enqueue=[{"training.learning_rate": lr, "model.num_hidden_layers": 1,
                                        "training.lr_schedule": "constant"} for lr in (3e-3, 2e-3, 1e-4)])  # fmt: skip
        assert doc["status"] == "running" and doc["counts"]["asked"] == 0
        # When it runs to its end
        done = wait_finished(c, doc["study_id"])
        # Then every trial ran once, in rounds of 2, and the best one is registered with its config
        trials = c.studies.trials(ALICE, doc["study_id"])
        assert [t["number"] for t in trials] == list(range(6)) and done["finished_reason"] == "budget", trials
        assert {t["round"] for t in trials} == {1, 2, 3}
        assert all(t["state"] in ("complete", "pruned") for t in trials), [(t["state"], t["reason"]) for t in trials]
        assert [t["source"] for t in trials[:3]] == ["enqueued"] * 3 and trials[3]["source"] == "sampler"
        # the poor third point (lr 1e-4) was pruned against the first two: its job stopped, its last value kept
        assert trials[2]["state"] == "pruned" and trials[2]["last_value"] < min(trials[0]["values"][0], 0.9)
        assert c.jobs.describe(trials[2]["jobs"][0]).state == "Stopped"
        for t in trials:
            assert ("training.warmup_ratio" in t["params"]) == (t["params"]["training.lr_schedule"] == "linear")
            assert t["intermediate"], t
        best = c.studies.best(ALICE, doc["study_id"])
        assert best["values"][0] == max(t["values"][0] for t in trials if t["state"] == "complete")
        assert best["model_id"] and best["config_version"] == 2
        config = c.configs.get(ALICE, cid)
        for path, value in best["params"].items():
            section, key = path.split(".")
            assert config["values"][section][key] == value
        data = c.studies.study_data(ALICE, doc["study_id"])
        assert data["directions"] == ["maximize"] and len(data["trials"]) == 6
        assert all(isinstance(k, str) for t in data["trials"] for k in t["intermediate"])
        assert c.studies.trials_csv(ALICE, doc["study_id"]).count("\n") == 7
        # And a second study warm-starts from its completed trials (points of its own space only)
        again = c.studies.start(ALICE, pid, name="again", config_id=cid, dataset_id=did, space=SPACE, max_trials=1,
                                warm_start_from=doc["study_id"])  # fmt: skip
        assert again["warm_start_trials"] == sum(t["state"] == "complete" for t in trials) > 0
        c.studies.cancel(ALICE, again["study_id"])
        wait_finished(c, again["study_id"])
    finally:
        stop_runs(c)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (
            {"space": {"training.learning_rat": {"type": "float", "low": 0.1, "high": 0.2}}},
            "space.training.learning_rat",
        ),
        (
            {"space": {"training.learning_rate": {"type": "float", "low": 0.1, "high": 0.1}}},
            "space.training.learning_rate.low",
        ),
        (
            {"space": {"training.weight_decay": {"type": "float", "low": 0.0, "high": 0.1, "log": True}}},
            "space.training.weight_decay.low",
        ),
        ({"objectives": ["2 * 3"]}, "objectives[0].expression"),
        ({"objectives": ["val_accuracy.__class__"]}, "objectives[0].expression"),
        ({"constraints": ["latency <= 10"]}, "constraints[0]"),
        ({"strategy": "annealing"}, "strategy"),
        ({"parallelism": 0}, "parallelism"),
        ({"pruner": {"kind": "asha", "reduction_factor": 1}}, "pruner.reduction_factor"),
    ],
)
def test_bad_input_is_invalid_naming_the_field_and_nothing_is_written(tmp_path, change, field):
    c, pid, did, cid = platform(tmp_path)
    try:
        before = len(c.store.read_all(limit=100_000))
        args = {"name": "s", "config_id": cid, "dataset_id": did, "space": SPACE, "max_trials": 2, **change}
        with pytest.raises(Invalid) as e:
            c.studies.start(ALICE, pid, **args)
        assert e.value.field == field, e.value.message
        assert len(c.store.read_all(limit=100_000)) == before
    finally:
        c.close()


@pytest.mark.slow
def test_cancel_stops_running_trials_and_a_cancelled_study_can_be_resumed(tmp_path):
    c, pid, did, cid = platform(tmp_path)
    try:
        doc = c.studies.start(ALICE, pid, name="s", config_id=cid, dataset_id=did, space=SPACE, strategy="random",
                              max_trials=4, parallelism=2)  # fmt: skip
        sid = doc["study_id"]
        deadline = time.monotonic() + 60
        while c.studies.get(ALICE, sid)["counts"]["running"] == 0:
            c.catch_up()
            assert time.monotonic() < deadline
            time.sleep(0.1)
        c.studies.change(ALICE, sid, parallelism=1)
        c.studies.cancel(ALICE, sid, reason="enough")
        done = wait_finished(c, sid)
        assert done["finished_reason"] == "cancelled" and done["best_model_id"] is None
        with pytest.raises(Conflict):
            c.studies.cancel(ALICE, sid)
        # a cancelled study goes on under a new run, one trial at a time now
        c.studies.resume(ALICE, sid)
        done = wait_finished(c, sid)
        assert done["finished_reason"] == "budget" and done["run_id"] == f"{sid}-r1", done
        trials = c.studies.trials(ALICE, sid)
        assert len(trials) == 4
        later = [t for t in trials if t["round"] > 1]
        assert all(len([u for u in later if u["round"] == t["round"]]) == 1 for t in later)
    finally:
        stop_runs(c)


@pytest.mark.slow  # ~6 s: 2 trials x 2 fold jobs
def test_a_cross_validated_study_runs_k_fold_jobs_per_trial_and_reports_mean_and_std(tmp_path):
    c, pid, did, cid = platform(tmp_path)
    try:
        space = {"training.learning_rate": {"type": "float", "low": 1e-3, "high": 3e-3, "step": 1e-3}}
        doc = c.studies.start(ALICE, pid, name="cv", config_id=cid, dataset_id=did, space=space, strategy="cv-grid",
                              folds=2, max_trials=10, parallelism=2)  # fmt: skip
        done = wait_finished(c, doc["study_id"])
        trials = c.studies.trials(ALICE, doc["study_id"])
        # the grid has 3 points: the study ends when they are done, before its budget of 10
        assert done["finished_reason"] == "exhausted" and len(trials) == 3
        for t in trials:
            assert t["state"] == "complete" and len(t["jobs"]) == 2 and t["jobs"][1].endswith("-f1")
            assert t["std"] == [pytest.approx(0.0)] and t["values"][0] > 0
        folds = sorted((tmp_path / "data").rglob("folds/*/train.jsonl"))
        assert len(folds) == 2
    finally:
        stop_runs(c)
