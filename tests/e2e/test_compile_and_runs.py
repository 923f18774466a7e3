"""Compile management end to end through `tlm serve` and the `tlm` CLI: a tiny model uploaded to
the library, compiled to ONNX int8 while its logs are followed, its report shown, its package
downloaded and checked against its manifest, its run shown step by step; a second compile
cancelled mid-run with its log kept; the server killed (-9) while a compile job runs, restarted,
and the compile resumed on the same job and succeeded."""

from __future__ import annotations

import contextlib
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

from jobs.package import verify_manifest  # noqa: E402
from tests.integration._tiny_model import make_tiny_model  # noqa: E402

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
# exporter=torchscript: the dynamo exporter (the default, "auto") takes ~25x longer on these tiny
# models; tests/integration/test_jobs_pipeline.py compiles with the default
FAST = ["exporter=torchscript",
    "sample_size=16", "latency_runs=2", "max_seq_length=32", "num_threads=1", "latency_batch_sizes=[1]"]
# long enough to be caught running: many verification examples and latency runs
SLOW = ["exporter=torchscript",
    "sample_size=4000", "latency_runs=300", "max_seq_length=64", "num_threads=1", "latency_batch_sizes=[1,8,32]"]


def cli_json(platform: Platform, *args: str) -> Any:
    return json.loads(platform.cli("--json", *args).stdout)


def wait_for(what: str, check: Any, timeout: float = 120, every: float = 0.3) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}")


def compile_job_running(platform: Platform, compile_id: str) -> bool:
    with platform.http() as http:
        logs = http.get(f"/compiles/{compile_id}/logs").json()
    return any(line.startswith("exported with") for line in logs["lines"]) and not logs["terminal"]


def kill_leftover_jobs(data_dir: Path) -> None:
    for status in (data_dir / "jobs").glob("*/status.json"):
        pid = json.loads(status.read_text()).get("pid")
        if pid:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(int(pid), signal.SIGKILL)


def test_compile_follow_package_cancel_and_survive_a_crash(platform: Platform, tmp_path: Path) -> None:
    try:
        _scenario(platform, tmp_path)
    finally:
        kill_leftover_jobs(platform.data_dir)


def _scenario(platform: Platform, tmp_path: Path) -> None:
    # Given a tiny trained-layout model uploaded to the library through the CLI
    model_dir = make_tiny_model(tmp_path / "tiny")
    pid = cli_json(platform, "projects", "create", "编译组")["project_id"]
    mid = cli_json(platform, "models", "register", pid, "小模型", "--family", "bert")["model_id"]
    platform.cli("models", "upload", mid, *sorted(str(p) for p in model_dir.iterdir()))

    # When a compile names a parameter its recipe does not have, it is refused before any job
    bad = platform.cli("compile", "start", "--model", mid, "--target", "onnx", "--param", "optlevel=3", check=False)
    assert bad.returncode == 2 and "422" in bad.stderr and "params.optlevel" in bad.stderr
    assert not (platform.data_dir / "jobs").exists() or not any((platform.data_dir / "jobs").iterdir())

    # When it is compiled to ONNX int8 and its logs are followed until it ends
    params = [a for p in FAST for a in ("--param", p)]
    started = cli_json(platform, "compile", "start", "--model", mid, "--target", "onnx-int8", *params)
    cid, run_id = started["compile_id"], started["run_id"]
    followed = platform.cli("compile", "logs", cid, "--follow", "--interval", "0.3").stdout
    # Then the follow printed both jobs' lines and the end
    assert "== Compile job tlm-compile-" in followed and "== Package job tlm-package-" in followed
    assert "compile ok:" in followed and followed.rstrip().endswith(f"== compile {cid} succeeded ==")

    # And show has the verification report, latency and the artifacts
    shown = cli_json(platform, "compile", "show", cid)
    assert shown["status"] == "succeeded" and shown["verification"]["passed"]
    assert set(shown["artifacts"]) == {"model.onnx", "compile_report.json", "model.tar.gz"}
    assert "verification: passed=True" in platform.cli("compile", "show", cid).stdout

    # And the package downloads (sha256 checked) as a bundle whose manifest checks out
    tarball = tmp_path / "pkg.tar.gz"
    platform.cli("package", cid, "--dest", str(tarball))
    with tarfile.open(tarball) as tar:
        tar.extractall(tmp_path / "bundle", filter="data")
    assert verify_manifest(tmp_path / "bundle") == []
    assert json.loads((tmp_path / "bundle" / "manifest.json").read_text())["files"] == shown["manifest"]["files"]

    # And the run shows each step with its status and timing
    run = cli_json(platform, "runs", "show", run_id)
    assert [(s["step"], s["status"]) for s in run["steps"]] == [
        (s, "succeeded")
        for s in ("Validate", "Compile admit", "Compile admitted", "Compile", "Compile release", "Verify",
                  "Package admit", "Package admitted", "Package", "Package release", "Record")  # job slots
    ]  # fmt: skip
    compile_step = next(s for s in run["steps"] if s["step"] == "Compile")
    assert all(s["duration_s"] >= 0 for s in run["steps"]) and compile_step["duration_s"] > 0.5
    text = platform.cli("runs", "show", run_id).stdout
    assert "Compile" in text and "Package" in text and "succeeded" in text
    assert run_id in {r["run_id"] for r in cli_json(platform, "runs", "list")["items"]}

    # When a second compile is cancelled while its compile job runs
    slow = [a for p in SLOW for a in ("--param", p)]
    second = cli_json(platform, "compile", "start", "--model", mid, "--target", "onnx", *slow)
    wait_for("the second compile job to run", lambda: compile_job_running(platform, second["compile_id"]))
    cancelled = cli_json(platform, "compile", "cancel", second["compile_id"])
    # Then the compile and its run are cancelled, the job stopped, and its log is kept
    assert cancelled["status"] == "cancelled"
    run2 = wait_for(
        "the run to end",
        lambda: (r := cli_json(platform, "runs", "show", second["run_id"]))["status"] == "cancelled" and r,
    )
    assert run2["steps"][-1]["step"] == "Compile"
    log = platform.cli("compile", "logs", second["compile_id"]).stdout
    assert "== Compile job tlm-compile-" in log and "exported with" in log
    job = cancelled["jobs"]["Compile"]
    status_file = platform.data_dir / "jobs" / job / "status.json"
    wait_for("the job to stop", lambda: json.loads(status_file.read_text())["state"] == "Stopped", timeout=30)

    # When the server is killed (-9) while a third compile's job runs, then restarted
    third = cli_json(platform, "compile", "start", "--model", mid, "--target", "onnx-int8", *slow)
    wait_for("the third compile job to run", lambda: compile_job_running(platform, third["compile_id"]))
    with platform.http() as http:
        job_before = http.get(f"/compiles/{third['compile_id']}/logs").json()["job"]
    assert job_before and job_before.startswith("tlm-compile-"), job_before
    platform.stop(signal.SIGKILL)
    platform.start()
    # Then the run is resumed, re-attached to the same job (no second compile job), and succeeds
    final = wait_for(
        "the third compile to end",
        lambda: (
            (c := cli_json(platform, "compile", "show", third["compile_id"]))["status"] in ("succeeded", "failed") and c
        ),
        timeout=150,
        every=1,
    )
    run3 = cli_json(platform, "runs", "show", third["run_id"])
    assert (final["status"], run3["status"]) == ("succeeded", "succeeded"), final.get("reason")
    assert final["verification"]["passed"] and final["jobs"]["Compile"] == job_before == next(
        s["job"] for s in run3["steps"] if s["step"] == "Compile"
    )
    compile_jobs = [p.name for p in (platform.data_dir / "jobs").iterdir() if p.name.startswith("tlm-compile-")]
    assert compile_jobs.count(job_before) == 1 and len(compile_jobs) == 3, compile_jobs  # one per compile
