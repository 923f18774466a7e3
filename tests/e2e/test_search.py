"""Hyperparameter search end to end, as a user drives it: a TPE study with the median pruner over
three parameters on the demo dataset (300 texts, tiny BERT, 6 steps a trial), two trials at a
time; the server is killed with SIGKILL mid-study and started again, and the study goes on with no
trial lost or run twice, ending with a registered best model, a new config version carrying its
params, the plot files and a CSV of the trials."""

from __future__ import annotations

import csv
import json
import signal
import time
from pathlib import Path

import pytest

from tests.e2e.conftest import Platform

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
TINY = {"training.epochs": 1, "training.max_seq_length": 32, "training.batch_size": 16,
        "training.early_stopping_patience": 0}  # fmt: skip
SPACE = """
training.learning_rate: {type: float, low: 1.0e-4, high: 1.0e-2, log: true}
model.num_hidden_layers: {type: int, low: 1, high: 2}
training.warmup_ratio: {type: float, low: 0.0, high: 0.2}
"""


def jcli(platform: Platform, *args: str) -> dict:
    return json.loads(platform.cli("--json", *args).stdout)


def test_tpe_study_with_pruning_survives_sigkill_and_registers_its_best(platform: Platform, tmp_path: Path) -> None:
    http = platform.http()
    pid = http.post("/projects", json={"name": "search"}).json()["project_id"]
    did = jcli(platform, "datasets", "import-demo", pid, "--limit", "300")["dataset_id"]
    config = http.post(f"/projects/{pid}/configs", json={"template": "bert-tiny", "overrides": TINY}).json()
    (tmp_path / "space.yaml").write_text(SPACE, encoding="utf-8")

    # Bad input: 422 naming the field, nothing started
    (tmp_path / "bad.yaml").write_text("training.learning_rate: {type: float, low: 0.0, high: 0.1, log: true}\n")
    bad = platform.cli("--json", "search", "start", "--config", config["config_id"], "--dataset", did,
                       "--space", str(tmp_path / "bad.yaml"), check=False)  # fmt: skip
    assert bad.returncode != 0 and json.loads(bad.stdout)["field"] == "space.training.learning_rate.low"

    # Given a TPE study with the median pruner, 4 trials of 6 steps, 2 at a time
    s = jcli(
        platform,
        "search",
        "start",
        "--config",
        config["config_id"],
        "--dataset",
        did,
        "--space",
        str(tmp_path / "space.yaml"),
        "--strategy",
        "tpe",
        "--trials",
        "4",
        "--parallel",
        "2",
        "--objective",
        "val_accuracy:maximize",
        "--constraint",
        "parameters <= 5e6",
        "--pruner",
        "median:n_startup_trials=2",
        "--steps",
        "6",
        "--eval-every",
        "2",
        "--threads",
        "1",
        "--name",
        "tiny-search",
    )
    sid = s["study_id"]
    t0 = time.monotonic()

    # When the server is killed with SIGKILL while the second round runs, and started again
    deadline = time.monotonic() + 150
    while True:
        doc = http.get(f"/studies/{sid}").json()
        if doc["rounds"] >= 2 and doc["counts"]["running"] >= 1:
            break
        assert doc["finished_reason"] is None and time.monotonic() < deadline, doc
        time.sleep(0.3)
    print(f"killed at {time.monotonic() - t0:.1f} s")
    platform.stop(signal.SIGKILL)
    platform.start()
    http = platform.http()
    while (doc := http.get(f"/studies/{sid}").json())["finished_reason"] is None:
        assert time.monotonic() < deadline, doc
        time.sleep(0.5)

    print(f"finished at {time.monotonic() - t0:.1f} s")
    # Then it finished on its budget: 4 trials, each asked once and run by one job, none lost
    assert doc["finished_reason"] == "budget", doc
    trials = jcli(platform, "search", "trials", sid)["items"]
    assert [t["number"] for t in trials] == list(range(4))
    assert all(t["state"] in ("complete", "pruned") for t in trials), [(t["state"], t["reason"]) for t in trials]
    assert len({j for t in trials for j in t["jobs"]}) == 4
    jobs = {p.name for p in (platform.data_dir / "jobs").iterdir() if p.name.startswith("tlm-trial-")}
    assert len(jobs) == 4
    for t in trials:
        assert set(t["params"]) == {"training.learning_rate", "architecture.num_hidden_layers",
                                    "training.warmup_ratio"} and t["intermediate"]  # fmt: skip
    # And the best trial's model is in the library, with a new config version carrying its params
    best = jcli(platform, "search", "best", sid)
    assert best["model_id"] and best["config_version"] == config["version"] + 1
    model = http.get(f"/models/{best['model_id']}").json()
    assert model["name"] == "tiny-search-best" and "study.json" in {f["path"] for f in model["files"]}
    values = http.get(f"/configs/{config['config_id']}").json()["values"]
    assert values["training"]["learning_rate"] == best["params"]["training.learning_rate"]
    assert values["architecture"]["num_hidden_layers"] == best["params"]["architecture.num_hidden_layers"]
    # And the plots and the CSV of the trials are files
    out = platform.cli("search", "plot", sid, "--out", str(tmp_path / "plots"), "--format", "png").stdout
    pngs = sorted((tmp_path / "plots" / sid).glob("*.png"))
    assert {p.stem for p in pngs} >= {"history", "intermediate", "parallel_coordinates"}, out
    assert all(p.stat().st_size > 1000 for p in pngs)
    platform.cli("search", "trials", sid, "--csv", str(tmp_path / "trials.csv"))
    rows = list(csv.reader((tmp_path / "trials.csv").open(encoding="utf-8")))
    assert len(rows) == 5
    shown = platform.cli("search", "show", sid).stdout
    assert f"best #{best['number']}" in shown
