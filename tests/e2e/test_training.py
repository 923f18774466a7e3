"""Datasets and training end to end, as a user drives them: import the demo dataset, train a tiny
BERT while following its logs, find the model in the library with its evaluation, cancel a second
training mid-run, and see bad input refused before any job starts."""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

from tests.e2e.conftest import Platform

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

TINY = {"training.epochs": 1, "training.max_steps": 0, "training.max_seq_length": 32, "training.batch_size": 16}


def jcli(platform: Platform, *args: str) -> dict:
    return json.loads(platform.cli("--json", *args).stdout)


def jobs_started(platform: Platform) -> set[str]:
    root = platform.data_dir / "jobs"
    return {p.name for p in root.iterdir()} if root.exists() else set()


def upload_dataset(platform: Platform, pid: str, name: str, tmp: Path, files: dict[str, bytes]) -> dict:
    ds = jcli(platform, "datasets", "register", pid, name)
    for fname, data in files.items():
        (tmp / fname).write_bytes(data)
        platform.cli("datasets", "upload", ds["model_id"], str(tmp / fname))
    return jcli(platform, "datasets", "show", ds["model_id"])


def test_demo_dataset_train_follow_show_cancel_and_bad_input(platform: Platform, tmp_path: Path) -> None:
    http = platform.http()
    pid = http.post("/projects", json={"name": "情感"}).json()["project_id"]

    # Given the demo corpus imported as a dataset (a job), 300 texts split train/validation/test
    imported = jcli(platform, "datasets", "import-demo", pid, "--limit", "300")
    did = imported["dataset_id"]
    ds = jcli(platform, "datasets", "show", did)
    assert ds["kind"] == "dataset" and ds["validation"]["state"] == "valid"
    assert set(ds["validation"]["splits"]) == {"train", "validation", "test"}
    assert ds["validation"]["labels"] == ["negative", "positive"] and 290 <= ds["validation"]["rows"] <= 310
    train_file = next(f for f in ds["files"] if f["path"] == "train.jsonl")
    assert train_file["validation"]["valid"] and train_file["validation"]["report"]["rows"] > 200
    assert [d["model_id"] for d in jcli(platform, "datasets", "list", "--project", pid)["items"]] == [did]
    assert http.get("/models", params={"project_id": pid}).json()["items"] == []  # datasets are not models

    # And a tiny BERT config (1 epoch, sequences of 32)
    config = http.post(f"/projects/{pid}/configs", json={"template": "bert-tiny", "overrides": TINY}).json()

    # Bad input is refused before any job starts, naming the dataset or config and the problem
    before = jobs_started(platform)
    no_label = upload_dataset(platform, pid, "缺标签", tmp_path, {
        "train.jsonl": '{"text": "很好", "label": "pos"}\n{"text": "没有标签"}\n'.encode(),
        "validation.jsonl": b'{"text": "ok", "label": "pos"}\n',
        "test.jsonl": b'{"text": "ok", "label": "pos"}\n',
    })  # fmt: skip
    assert no_label["validation"]["state"] == "invalid"
    (tmp_path / "bad").mkdir()
    not_utf8 = upload_dataset(platform, pid, "GBK", tmp_path / "bad", {
        "train.csv": "text,label\n很好,pos\n".encode() + "很差".encode("gbk") + b",neg\n",
    })  # fmt: skip
    small_vocab = http.post(
        f"/projects/{pid}/configs",
        json={"template": "bert-tiny", "name": "vocab64",
              "overrides": {**TINY, "tokenizer.vocab_size": 64, "architecture.vocab_size": 64}},
    ).json()  # fmt: skip
    for config_id, dataset_id, field, words in (
        (config["config_id"], no_label["model_id"], "dataset_id", "train.jsonl line 2: missing label"),
        (config["config_id"], not_utf8["model_id"], "dataset_id", "train.csv line 3: not valid UTF-8"),
        (small_vocab["config_id"], did, "config_id", "tokenizer.vocab_size 64 cannot hold"),
        ("nope", did, "config_id", "no config"),
    ):
        r = http.post(f"/projects/{pid}/trainings", json={"config_id": config_id, "dataset_id": dataset_id,
                                                          "name": "x"})  # fmt: skip
        assert r.status_code in (404, 422) and r.json()["field"] == field and words in r.json()["message"], r.text
    bad = platform.cli("train", "start", "--config", config["config_id"], "--dataset", no_label["model_id"],
                       check=False)  # fmt: skip
    assert bad.returncode == 2 and "缺标签" in bad.stderr and "missing label" in bad.stderr
    unbuildable = http.post(
        f"/projects/{pid}/configs",
        json={"template": "bert-tiny",
              "overrides": {"architecture.hidden_size": 100, "architecture.num_attention_heads": 12}},
    )  # fmt: skip
    assert unbuildable.status_code == 422
    assert jobs_started(platform) == before
    assert http.get(f"/projects/{pid}/trainings").json()["items"] == []

    # When a training starts and the user follows its logs while it runs
    t0 = time.monotonic()
    started = jcli(platform, "train", "start", "--config", config["config_id"], "--dataset", did, "--name", "情感-tiny")
    tid = started["training_id"]
    follow = platform.cli("train", "logs", tid, "--follow")
    took = time.monotonic() - t0

    # Then the log shows both jobs live, to the end
    assert "==> tlm-train-" in follow.stdout and "==> tlm-evaluate-" in follow.stdout
    assert "metric: train_loss=" in follow.stdout and "evaluation: accuracy=" in follow.stdout
    assert follow.stdout.rstrip().endswith("==> training succeeded <==")
    print(f"train logs --follow took {took:.1f} s")  # reported, not a wall-clock assertion

    # And show reports metrics, the loss curve and the evaluation; the model is in the library
    shown = jcli(platform, "train", "show", tid)
    assert shown["state"] == "succeeded" and [s["step"] for s in shown["steps"]] == [
        "PrepareData", "Train admit", "Train admitted", "Train", "Train release",
        "Evaluate admit", "Evaluate admitted", "Evaluate", "Evaluate release", "Register"]  # fmt: skip
    assert shown["metrics"]["final"]["train_loss"] > 0 and shown["metrics"]["curves"]["train_loss"]
    assert 0 <= shown["evaluation"]["accuracy"] <= 1 and shown["evaluation"]["examples"] >= 25
    text = platform.cli("train", "show", tid).stdout
    assert "train_loss:" in text and "accuracy=" in text and "┤" in text
    model = http.get(f"/models/{shown['model_id']}").json()
    assert model["kind"] == "model" and model["name"] == "情感-tiny" and model["source"] == f"training-run:{tid}"
    paths = {f["path"] for f in model["files"]}
    assert {"model.safetensors", "config.json", "tokenizer.json", "labels.json", "evaluation.json",
            "metrics.json"} <= paths  # fmt: skip
    with http.stream("GET", http.get(f"/models/{shown['model_id']}/download",
                                     params={"path": "evaluation.json"}).json()["url"]) as r:  # fmt: skip
        assert json.loads(r.read())["accuracy"] == shown["evaluation"]["accuracy"]

    # And the trained model compiles to ONNX int8 (verified against eager) and packages
    fast = ["exporter=torchscript",
        "sample_size=16", "latency_runs=2", "max_seq_length=32", "num_threads=1", "latency_batch_sizes=[1]"]
    params = [a for p in fast for a in ("--param", p)]
    started = jcli(platform, "compile", "start", "--model", shown["model_id"], "--target", "onnx-int8", *params)
    followed = platform.cli("compile", "logs", started["compile_id"], "--follow", "--interval", "0.3").stdout
    assert followed.rstrip().endswith(f"== compile {started['compile_id']} succeeded ==")
    compiled = jcli(platform, "compile", "show", started["compile_id"])
    assert compiled["verification"]["passed"] and "model.tar.gz" in compiled["artifacts"]
    tarball = tmp_path / "trained.tar.gz"
    platform.cli("package", started["compile_id"], "--dest", str(tarball))
    with tarfile.open(tarball) as tar:
        names = tar.getnames()
    assert any(n.endswith("model.onnx") for n in names) and any(n.endswith("manifest.json") for n in names)

    # When a second, longer training is cancelled mid-run
    long_body = {"template": "bert-tiny", "name": "long", "overrides": {**TINY, "training.epochs": 200}}
    long = http.post(f"/projects/{pid}/configs", json=long_body).json()
    second = jcli(platform, "train", "start", "--config", long["config_id"], "--dataset", did, "--name", "长")
    sid = second["training_id"]
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        logs = http.get(f"/trainings/{sid}/logs").json()
        if any("metric: train_loss=" in line for line in logs["lines"]):
            break
        time.sleep(0.5)
    else:
        pytest.fail(f"the second training never logged a step: {http.get(f'/trainings/{sid}').json()}")
    cancelled = jcli(platform, "train", "cancel", sid)

    # Then it ends cancelled, no model registered, its job stopped and its log kept
    assert cancelled["state"] == "cancelled" and cancelled["model_id"] is None
    job = cancelled["jobs"][-1]["job"]
    kept = http.get(f"/trainings/{sid}/logs", params={"job": job}).json()
    assert kept["finished"] and any("metric: train_loss=" in line for line in kept["lines"])
    assert http.get(f"/runs/{sid}").json()["status"] == "cancelled"  # the workflow run itself
    assert [m["name"] for m in http.get("/models", params={"project_id": pid}).json()["items"]] == ["情感-tiny"]
    listed = {t["training_id"]: t["state"] for t in http.get(f"/projects/{pid}/trainings").json()["items"]}
    assert listed == {tid: "succeeded", sid: "cancelled"}
    # the step the cancel interrupted ends cancelled; after a run, `train logs` shows the training job's log too
    assert {s["step"]: s["status"] for s in cancelled["steps"]}["Train"] == "cancelled"
    after = platform.cli("train", "logs", tid).stdout
    assert "==> tlm-train-" in after and "metric: train_loss=" in after and "==> tlm-evaluate-" in after


def test_cli_help_lists_datasets_and_train() -> None:
    out = subprocess.run([sys.executable, "-m", "tlm.cli.main", "--help"], capture_output=True, text=True, check=True)
    assert "datasets" in out.stdout and "train" in out.stdout
