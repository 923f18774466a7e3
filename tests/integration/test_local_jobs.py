"""LocalJobRunner with a real subprocess (tests/integration/_fake_job.py)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from domain.errors import Invalid
from runtime.adapters.local_jobs import LocalJobRunner
from runtime.adapters.local_jobs.state import read_json, write_json_atomic
from runtime.adapters.sagemaker import metric_definitions_for
from runtime.ports import JobSpec

pytestmark = pytest.mark.integration
FAKE = str(Path(__file__).with_name("_fake_job.py"))


@pytest.fixture
def runner(tmp_path: Path) -> LocalJobRunner:
    r = LocalJobRunner(tmp_path / "jobs", grace_s=1.0)
    r.register_program("fake", FAKE)
    return r


def spec(name: str, **hps: object) -> JobSpec:
    return JobSpec(
        name=name,
        program="fake",
        hyperparameters=hps,
        max_runtime_s=30,
        metric_definitions=metric_definitions_for("loss"),
    )


def wait_for_line(runner: LocalJobRunner, name: str, text: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(text in ln for ln in runner.logs(name)[0]):
            return
        time.sleep(0.05)
    raise AssertionError(f"{text!r} never appeared in {runner.logs(name)[0]}")


def test_completes_with_layout_metrics_model_and_clean_env(runner, tmp_path, monkeypatch):
    # Given a data channel and a secret in the server's environment
    data = tmp_path / "data"
    data.mkdir()
    (data / "train.jsonl").write_text("{}\n")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "do-not-leak")
    out = tmp_path / "artifacts"
    # When the job runs to the end
    runner.start(
        JobSpec(
            name="ok-1",
            program="fake",
            hyperparameters={"steps": 4, "lr": 0.1},
            channels={"train": str(data)},
            output_uri=str(out),
            metric_definitions=metric_definitions_for("loss"),
        )
    )
    status = runner.wait("ok-1", 20)
    # Then it is Completed with the last logged loss, the file metrics and its model published
    assert status.state == "Completed", runner.logs("ok-1")
    assert status.metrics == {"loss": 0.25, "accuracy": 0.75}
    assert Path(status.model_artifacts) == out / "ok-1" / "model"
    assert (out / "ok-1" / "model" / "model.bin").read_bytes() == b"weights"
    job = runner.root / "ok-1"
    hp = read_json(job / "input" / "config" / "hyperparameters.json")
    assert hp == {"steps": "4", "lr": "0.1"}  # SageMaker's str -> str encoding
    lines, nxt = runner.logs("ok-1")
    assert "env has AWS_SECRET_ACCESS_KEY: False" in lines
    assert "train channel files: ['train.jsonl']" in lines
    assert nxt == len(lines) and runner.logs("ok-1", start=nxt) == ([], nxt)


def test_failure_reason_from_failure_file_and_from_exit_code(runner):
    runner.start(spec("bad-1", steps=1, fail="dataset has no labels"))
    runner.start(spec("bad-2", steps=1, exit_code=3))
    s1, s2 = runner.wait("bad-1", 20), runner.wait("bad-2", 20)
    assert (s1.state, s1.failure_reason) == ("Failed", "dataset has no labels")
    assert s2.state == "Failed" and s2.failure_reason.startswith("exit code 3")


def test_timeout_fails_the_job(runner):
    runner.start(
        JobSpec(name="slow-1", program="fake", hyperparameters={"steps": 100, "sleep": 0.1}, max_runtime_s=1)
    )
    status = runner.wait("slow-1", 20)
    assert status.state == "Failed" and "MaxRuntimeExceeded" in status.failure_reason


def test_cancel_escalates_to_sigkill_and_keeps_the_log(runner):
    # Given a job that ignores SIGTERM and leaves a grandchild behind
    runner.start(spec("stubborn-1", steps=1000, sleep=0.05, ignore_term=True, spawn_child=True))
    wait_for_line(runner, "stubborn-1", "metric: loss")
    # When it is cancelled
    t0 = time.monotonic()
    runner.stop("stubborn-1")
    assert runner.describe("stubborn-1").state in ("Stopping", "Stopped")
    status = runner.wait("stubborn-1", 20)
    # Then it is Stopped after the grace period, the whole group is gone, the log is kept
    assert status.state == "Stopped"
    assert time.monotonic() - t0 >= 0.9  # the grace period was given (no upper window: wait(20) bounds it)
    pid = (read_json(runner.root / "stubborn-1" / "status.json") or {}).get("exit")
    assert pid is not None and pid["killed"] is True
    lines = runner.logs("stubborn-1")[0]
    assert any("metric: loss" in ln for ln in lines) and any("SIGKILL" in ln for ln in lines)
    runner.stop("stubborn-1")  # stopping a finished job is a no-op
    assert runner.describe("stubborn-1").state == "Stopped"


def test_cancel_honoured_sigterm_is_quick(runner):
    runner.start(spec("polite-1", steps=1000, sleep=0.05))
    wait_for_line(runner, "polite-1", "metric: loss")
    runner.stop("polite-1")
    status = runner.wait("polite-1", 10)
    assert status.state == "Stopped"
    assert "got SIGTERM, saving and leaving" in runner.logs("polite-1")[0]


def test_logs_tail_while_running(runner):
    runner.start(spec("tail-1", steps=40, sleep=0.05))
    wait_for_line(runner, "tail-1", "step=2")
    first, nxt = runner.logs("tail-1")
    assert runner.describe("tail-1").state == "InProgress"
    assert runner.describe("tail-1").metrics["loss"] > 0
    runner.wait("tail-1", 20)
    rest, end = runner.logs("tail-1", start=nxt)
    assert first + rest == runner.logs("tail-1")[0] and end == nxt + len(rest)
    assert rest[-1] == "done" and "metric: loss=0.0250 step=40" in rest


def test_memory_limit_kills_a_hog(runner):
    runner.start(
        JobSpec(
            name="hog-1", program="fake", hyperparameters={"hog_mb": 2048}, memory_limit_mb=256, cpu_limit=1
        )
    )
    status = runner.wait("hog-1", 20)
    assert status.state == "Failed"
    assert "MemoryError" in status.failure_reason and "memory limit 256 MB" in status.failure_reason


def test_new_runner_fails_job_whose_process_is_gone(runner, tmp_path):
    # Given a running job whose whole process group dies with its server (kill -9)
    runner.start(spec("orphan-1", steps=1000, sleep=0.05))
    wait_for_line(runner, "orphan-1", "metric: loss")
    record = read_json(runner.root / "orphan-1" / "status.json")
    os.killpg(record["pid"], signal.SIGKILL)
    runner._threads["orphan-1"].join(5)
    # the old runner never got to record the end (as if it died first)
    write_json_atomic(runner.root / "orphan-1" / "status.json", record)
    # When a new runner instance starts on the same root
    fresh = LocalJobRunner(runner.root)
    changed = fresh.reconcile()
    # Then the job is Failed, never stuck InProgress, and its log is still there
    assert changed == ["orphan-1"]
    status = fresh.describe("orphan-1")
    assert (status.state, status.failure_reason) == ("Failed", "runner restarted; process gone")
    assert any("metric: loss" in ln for ln in fresh.logs("orphan-1")[0])


def test_new_runner_detects_a_reused_pid(runner):
    runner.start(spec("reused-1", steps=1))
    runner.wait("reused-1", 10)
    record = read_json(runner.root / "reused-1" / "status.json")
    # a record pointing at a live pid (ours) that started at another time
    record.update(state="InProgress", pid=os.getpid(), pid_start=1, exit=None)
    (runner.root / "reused-1" / "exit.json").unlink()
    write_json_atomic(runner.root / "reused-1" / "status.json", record)
    assert LocalJobRunner(runner.root).describe("reused-1").state == "Failed"


def test_job_that_ended_while_no_runner_watched_is_settled_from_exit_file(runner):
    runner.start(spec("late-1", steps=2))
    runner.wait("late-1", 10)
    record = read_json(runner.root / "late-1" / "status.json")
    record.update(state="InProgress", metrics={})
    write_json_atomic(runner.root / "late-1" / "status.json", record)
    status = LocalJobRunner(runner.root).describe("late-1")
    assert status.state == "Completed" and status.metrics["loss"] == 0.5


def test_bad_specs_are_rejected_before_anything_runs(runner, tmp_path):
    with pytest.raises(Invalid) as e:
        runner.start(JobSpec(name="x-1", program="nope"))
    assert e.value.field == "program"
    with pytest.raises(Invalid):
        runner.start(JobSpec(name="../escape", program="fake"))
    with pytest.raises(Invalid) as e:
        runner.start(JobSpec(name="x-2", program="fake", channels={"train": str(tmp_path / "missing")}))
    assert e.value.field == "channels.train"
    assert not (runner.root / "x-2").exists()


def test_log_sink_gets_the_final_status(runner):
    seen = []
    runner.attach_log_sink(lambda name, path, status: seen.append((name, path.exists(), status.state)))
    runner.start(spec("sink-1", steps=1))
    runner.wait("sink-1", 10)
    runner._threads["sink-1"].join(5)
    assert seen == [("sink-1", True, "Completed")]
