"""The release center end to end through `tlm serve` and the `tlm` CLI, with real serving processes
(``jobs.serve`` supervised by the local ServingBackend): a tiny model (trained layout) compiled to
ONNX -> versions -> deploy -> predict Chinese texts (labels equal the eager evaluation's for the
same texts) -> a 20 % canary update -> a version whose serving fails on purpose (a broken ONNX
graph) rolled back automatically -> kill -9 of the serving process healed -> manual rollback ->
stop; the bad inputs refused; the history shows all of it."""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import tarfile
import time
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Platform

pytest.importorskip("torch")
pytest.importorskip("onnxruntime")

from tests.integration._tiny_model import make_tiny_model  # noqa: E402

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
FAST = ["exporter=torchscript",
    "sample_size=16", "latency_runs=2", "max_seq_length=32", "num_threads=1", "latency_batch_sizes=[1]"]
TEXTS = ["这部电影很好看，演员也不错", "服务太差了，再也不来了", "质量很好，物流很快", "味道一般，价格太贵", "还行吧"]


def jcli(platform: Platform, *args: str) -> Any:
    return json.loads(platform.cli("--json", *args).stdout)


def wait_for(platform: Platform, did: str, check: Any, timeout: float = 90) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    with platform.http() as http:
        while True:
            doc = http.get(f"/deployments/{did}").json()
            if check(doc):
                return doc
            assert time.monotonic() < deadline, json.dumps(doc, ensure_ascii=False)[-3000:]
            time.sleep(0.3)


def eager_labels(model_dir: Path, texts: list[str]) -> list[str]:
    """What the evaluation job computes for these texts (jobs.evaluate: eager torch, argmax)."""
    import torch

    from jobs.modeling import load_model_dir

    model, tokenizer, labels = load_model_dir(str(model_dir))
    with torch.inference_mode():
        enc = tokenizer(texts, truncation=True, max_length=32, padding=True, return_tensors="pt")
        logits = model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).logits
    return [labels[i] for i in logits.argmax(-1).tolist()]


def serving_pids(data_dir: Path) -> list[int]:
    out = []
    for state in (data_dir / "serving").glob("*/*/state.json"):
        rec = json.loads(state.read_text())
        if rec.get("pid") and rec.get("status") != "stopped":
            out.append(int(rec["pid"]))
    return out


def test_release_center_end_to_end(platform: Platform, tmp_path: Path) -> None:
    try:
        _scenario(platform, tmp_path)
    finally:
        for pid in serving_pids(platform.data_dir):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)


def _scenario(platform: Platform, tmp_path: Path) -> None:
    # Given a tiny model (the layout jobs.train writes) compiled to ONNX through the CLI
    model_dir = make_tiny_model(tmp_path / "tiny")
    pid = jcli(platform, "projects", "create", "发布中心")["project_id"]
    mid = jcli(platform, "models", "register", pid, "情感分类", "--family", "bert")["model_id"]
    platform.cli("models", "upload", mid, *sorted(str(p) for p in model_dir.iterdir()))
    cid = jcli(platform, "compile", "start", "--model", mid, "--target", "onnx",
               *[a for p in FAST for a in ("--param", p)])["compile_id"]  # fmt: skip
    followed = platform.cli("compile", "logs", cid, "--follow", "--interval", "0.3").stdout
    assert followed.rstrip().endswith(f"== compile {cid} succeeded ==")

    # And versions: the bare model (not deployable), two from the compile
    raw = jcli(platform, "versions", "create", "--model", mid)
    assert raw["source"] == "upload" and not raw["deployable"]
    v1 = jcli(platform, "versions", "create", "--model", mid, "--compile", cid, "--param", "max_seq_len=32")
    v2 = jcli(platform, "versions", "create", "--model", mid, "--compile", cid, "--param", "max_seq_len=32",
              "--param", "max_batch=8")  # fmt: skip
    assert v1["params"]["runtime"] == "onnxruntime-fp32" and v2["lineage"]["parent_version_id"] == v1["version_id"]
    diff = jcli(platform, "versions", "diff", v1["version_id"], v2["version_id"])
    assert [c["path"] for c in diff["changes"]] == ["lineage.parent_version_id", "params.max_batch"]

    # Bad input: a version without a compiled artifact is refused, nothing deployed
    bad = platform.cli("deployments", "start", raw["version_id"], check=False)
    assert bad.returncode == 2 and "422" in bad.stderr and "version_id" in bad.stderr
    assert jcli(platform, "deployments", "list", "--project", pid)["items"] == []

    # When v1 is deployed and asked about Chinese texts
    did = jcli(platform, "deployments", "start", v1["version_id"], "--name", "线上")["deployment_id"]
    wait_for(platform, did, lambda d: d["status"] == "running")
    got = jcli(platform, "predict", did, *TEXTS)
    # Then its labels are the evaluation's (eager) labels for the same texts
    assert [p["label"] for p in got["predictions"]] == eager_labels(model_dir, TEXTS)
    assert got["version_id"] == v1["version_id"] and all(0 <= p["score"] <= 1 for p in got["predictions"])
    texts_file = tmp_path / "texts.txt"
    texts_file.write_text("\n".join(TEXTS), encoding="utf-8")
    assert jcli(platform, "predict", did, "--file", str(texts_file))["predictions"] == got["predictions"]

    # Bad input on the live deployment: canary outside 1-99, a batch over the limit
    bad = platform.cli("deployments", "update", did, v2["version_id"], "--canary", "0", check=False)
    assert bad.returncode == 2 and "422" in bad.stderr and "strategy.percent" in bad.stderr
    with platform.http() as http:
        over = http.post(f"/deployments/{did}/predict", json={"texts": ["好"] * 65})
        assert over.status_code == 413 and "max_predict_texts" in over.json()["message"]
        assert over.json()["field"] == "texts"

    # When v2 goes out as a 20 % canary
    platform.cli("deployments", "update", did, v2["version_id"], "--canary", "20", "--bake", "2")
    doc = wait_for(platform, did, lambda d: d["status"] == "running" and d["primary_version"] == v2["version_id"])
    shifts = [h["weights"] for h in doc["history"] if h["type"] == "deployment.traffic_shifted"]
    assert shifts[-2:] == [{"blue": 80, "green": 20}, {"green": 100}]

    # When a version whose serving fails on purpose (its ONNX graph is garbage) goes out
    broken = tmp_path / "broken"
    broken.mkdir()
    with platform.http() as http:
        url = http.get(f"/compiles/{cid}/download", params={"path": "model.tar.gz"}).json()["url"]
        package = http.get(url).content
    with tarfile.open(fileobj=io.BytesIO(package)) as src, tarfile.open(broken / "model.tar.gz", "w:gz") as dst:
        for m in src.getmembers():
            data = src.extractfile(m).read() if m.isfile() else None  # type: ignore[union-attr]
            if m.name.endswith("model.onnx"):
                data = b"this is not an onnx graph"
                m.size = len(data)
            dst.addfile(m, io.BytesIO(data) if data is not None else None)
    (broken / "model.onnx").write_bytes(b"this is not an onnx graph")
    platform.cli("models", "upload", mid, str(broken / "model.tar.gz"), str(broken / "model.onnx"))
    v3 = jcli(platform, "versions", "create", "--model", mid, "--param", "runtime=onnxruntime-fp32",
              "--param", "max_seq_len=32", "--description", "broken on purpose")  # fmt: skip
    assert v3["deployable"]
    platform.cli("deployments", "update", did, v3["version_id"], "--canary", "20", "--bake", "2")
    # Then it is rolled back automatically, before any traffic moved to it
    doc = wait_for(platform, did, lambda d: any(h["type"] == "deployment.rolled_back" for h in d["history"])
                   and d["status"] == "running")  # fmt: skip
    rolled = [h for h in doc["history"] if h["type"] == "deployment.rolled_back"][-1]
    assert rolled["automatic"] and "did not become healthy" in rolled["cause"]
    assert doc["primary_version"] == v2["version_id"] and doc["weights"] == {"green": 100}
    assert jcli(platform, "predict", did, TEXTS[0])["version_id"] == v2["version_id"]

    # When the serving process is killed (-9), the supervisor heals it
    slot_state = platform.data_dir / "serving" / did / "green" / "state.json"
    victim = json.loads(slot_state.read_text())["pid"]
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 60
    while True:
        rec = json.loads(slot_state.read_text())
        if rec.get("pid") != victim and rec.get("healthy"):
            break
        assert time.monotonic() < deadline, rec
        time.sleep(0.2)
    assert rec["restarts"] >= 1
    assert jcli(platform, "predict", did, TEXTS[1])["version_id"] == v2["version_id"]

    # When the user rolls back by hand: to v1 (health-checked before traffic moves)
    platform.cli("deployments", "rollback", did, "--reason", "v2 is worse")
    doc = wait_for(platform, did, lambda d: d["status"] == "running" and d["primary_version"] == v1["version_id"])
    assert [p["label"] for p in jcli(platform, "predict", did, *TEXTS)["predictions"]] == \
        [p["label"] for p in got["predictions"]]  # fmt: skip

    # And the metrics show requests per version; show draws the chart and the history
    shown = platform.cli("deployments", "show", did).stdout
    assert "p99" in shown and "traffic_shifted" in shown and "rolled_back" in shown
    metrics = jcli(platform, "deployments", "show", did)["metrics"]
    assert {s["version_id"] for s in metrics["series"]} >= {v1["version_id"]}

    # When it is stopped, predicting is refused and its processes are gone
    platform.cli("deployments", "stop", did)
    wait_for(platform, did, lambda d: d["status"] == "stopped")
    bad = platform.cli("predict", did, TEXTS[0], check=False)
    assert bad.returncode == 2 and "409" in bad.stderr
    deadline = time.monotonic() + 30
    while serving_pids(platform.data_dir):
        assert time.monotonic() < deadline, serving_pids(platform.data_dir)
        time.sleep(0.3)

    # Then the history shows all of it, in order
    kinds = [h["type"].removeprefix("deployment.") for h in jcli(platform, "deployments", "show", did)["history"]]
    assert kinds[0] == "created" and kinds[-1] == "stopped"
    assert kinds.count("update_requested") == 4 and kinds.count("update_finished") == 3
    assert kinds.count("rolled_back") == 1
