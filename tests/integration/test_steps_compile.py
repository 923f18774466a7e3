"""The compile workflow on the local platform's parts (SQLite, blob files, the local workflow
runner, real ``jobs.compile`` / ``jobs.package`` subprocesses): a tiny model compiled to ONNX
int8 and packaged, its artifacts stored as verified blobs; bad requests refused before any job;
a model whose files cannot be compiled failed by the validate step with the reason."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from domain.errors import Forbidden, Invalid
from runtime.bootstrap import build_local
from runtime.services.commands import Caller
from runtime.settings import Settings

pytest.importorskip("torch")
pytest.importorskip("onnxruntime")

from jobs.package import verify_manifest  # noqa: E402
from tests.integration._tiny_model import make_tiny_model  # noqa: E402

pytestmark = [pytest.mark.integration, pytest.mark.slow]
ALICE, BOB = Caller("alice"), Caller("bob")
FAST = {"exporter": "torchscript", "sample_size": 16, "latency_runs": 2, "max_seq_length": 32, "num_threads": 1,
        "latency_batch_sizes": [1]}  # fmt: skip


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_model(tmp_path_factory.mktemp("tiny") / "model")


@pytest.fixture
def c(tmp_path: Path):
    container = build_local(Settings(data_dir=tmp_path / "data"))
    yield container
    container.close()


def run_to_end(c, run_id: str, timeout: float) -> None:
    """What the server's subscription does: the start reaction starts the run; once it ended,
    the outcome reaction records it on the compile."""
    c.catch_up()
    c.workflows.wait(run_id, timeout=timeout)
    c.catch_up()


def blob_bytes(c, key: str) -> bytes:
    return b"".join(c.blobs.open_range(key))


def test_compile_int8_records_verified_artifacts_and_per_step_timing(c, tiny: Path) -> None:
    # Given a tiny model in the library
    pid = c.library.create_project(ALICE, "p")["project_id"]
    mid = c.artifacts.ingest_dir(ALICE, pid, tiny, name="tiny", family="bert")
    # When it is compiled to ONNX int8
    started = c.compiles.start(ALICE, mid, "onnx-int8", FAST)
    assert started["status"] == "requested" and started["params"]["per_channel"] is False
    run_to_end(c, started["run_id"], timeout=240)
    done = c.compiles.show(ALICE, started["compile_id"])
    # Then it succeeded, verified, with all three artifacts as content-addressed blobs
    assert done["status"] == "succeeded", done
    assert done["verification"]["passed"] and done["report"]["quantization"]["weight_type"] == "QInt8"
    for path, a in done["artifacts"].items():
        data = blob_bytes(c, a["blob"])
        assert a["blob"] == f"sha256/{hashlib.sha256(data).hexdigest()}" and len(data) == a["size"], path
    # And the package is a bundle whose manifest checks out and names the model version
    tar_bytes = blob_bytes(c, done["artifacts"]["model.tar.gz"]["blob"])
    bundle = c.settings.data_dir / "bundle"
    with tarfile.open(fileobj=io.BytesIO(tar_bytes)) as tar:
        tar.extractall(bundle, filter="data")
    assert verify_manifest(bundle) == []
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert manifest["backend"] == "onnxruntime" and manifest["model_version_id"] == f"{mid}@{done['model_version']}"
    assert done["manifest"]["files"] == manifest["files"]
    # And the run shows every step with its timing and jobs
    assert [s["step"] for s in done["steps"] if not s["step"].startswith(("Compile ", "Package "))] == [
        "Validate", "Compile", "Verify", "Package", "Record"]  # fmt: skip  (besides each job's admit / release)
    assert [s["step"] for s in done["steps"] if s["step"].startswith("Compile")] == [
        "Compile admit", "Compile admitted", "Compile", "Compile release"]  # fmt: skip
    assert all(s["status"] == "succeeded" and s["duration_s"] is not None for s in done["steps"])
    assert set(done["jobs"]) == {"Compile", "Package"}
    # And the logs of both jobs read as one sequence
    logs = c.compiles.logs(ALICE, started["compile_id"])
    assert logs["terminal"] and any(line.startswith("compile ok:") for line in logs["lines"])
    assert c.compiles.logs(ALICE, started["compile_id"], start=logs["next"])["lines"] == []
    c.catch_up()  # lists read a view (the local server catches up after every write)
    assert [x["compile_id"] for x in c.compiles.list_for_model(ALICE, mid)] == [started["compile_id"]]
    # And the run is visible to the project's members only
    assert c.project_runs.show(ALICE, started["run_id"])["status"] == "succeeded"
    with pytest.raises(Forbidden):
        c.project_runs.show(BOB, started["run_id"])
    assert [r["run_id"] for r in c.project_runs.list(ALICE)] == [started["run_id"]] and c.project_runs.list(BOB) == []


def test_bad_requests_are_refused_before_any_job(c, tiny: Path) -> None:
    pid = c.library.create_project(ALICE, "p")["project_id"]
    mid = c.artifacts.ingest_dir(ALICE, pid, tiny, name="tiny", family="bert")
    empty = c.library.register_model(ALICE, pid, name="empty", family="bert")["model_id"]
    cases = [
        (mid, "tensorrt", {}, "target"),
        (mid, "onnx-int8", {"optlevel": 3}, "params.optlevel"),
        (mid, "onnx", {"per_channel": True}, "params.per_channel"),  # an int8-only field
        (mid, "onnx", {"opset": 99}, "params.opset"),
        (empty, "onnx", {}, "model_id"),
    ]
    for model_id, target, params, field in cases:
        with pytest.raises(Invalid) as e:
            c.compiles.start(ALICE, model_id, target, params)
        assert e.value.field == field, (target, params, e.value.message)
    with pytest.raises(Forbidden):
        c.compiles.start(BOB, mid, "onnx", {})
    assert not (c.settings.data_dir / "jobs").exists() or not any((c.settings.data_dir / "jobs").iterdir())


def test_a_model_that_cannot_be_compiled_fails_in_the_validate_step(c, tmp_path: Path) -> None:
    # Given a model with pickled weights and no tokenizer
    src = tmp_path / "bad"
    src.mkdir()
    (src / "config.json").write_text('{"model_type": "bert"}')
    (src / "pytorch_model.bin").write_bytes(b"\x80\x04not really a pickle")
    pid = c.library.create_project(ALICE, "p")["project_id"]
    mid = c.artifacts.ingest_dir(ALICE, pid, src, name="bad", family="bert")
    # When it is compiled
    started = c.compiles.start(ALICE, mid, "onnx", {})
    run_to_end(c, started["run_id"], timeout=30)
    done = c.compiles.show(ALICE, started["compile_id"])
    # Then the validate step failed it with the reason, and no job ran
    assert done["status"] == "failed" and done["error"] == "TLM.InvalidModel" and done["failed_step"] == "Validate"
    assert "pickled" in done["reason"] and "tokenizer.json" in done["reason"]
    assert done["jobs"] == {} and done["run"]["status"] == "failed"


def test_recipes_import_no_torch() -> None:
    code = "import sys, domain.compiles.recipes, runtime.services.compiles; assert 'torch' not in sys.modules, 'torch'"
    subprocess.run([sys.executable, "-c", code], check=True)
