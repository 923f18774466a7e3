"""The local workflow runner on a real SQLite event store: happy path, retry, catch, cancel, and
a SIGKILLed runner process resumed by a fresh runner on the same database.

Jobs come from a tiny file-backed fake JobRunner (one JSON file per job), so a job outlives the
process that launched it, as a real subprocess job does; the test decides when a job finishes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from domain.errors import Conflict, NotFound
from domain.workflows import model as m
from runtime.adapters.local_workflows import LocalWorkflowRunner
from runtime.adapters.sqlite.db import Database
from runtime.adapters.sqlite.event_store import SqliteEventStore
from runtime.ports import JobSpec, JobStatus
from runtime.workflows import definitions as d
from runtime.workflows.service import WorkflowService

pytestmark = pytest.mark.integration


class FileJobs:
    """Fake JobRunner: a job is ``<dir>/<name>.json`` {"state", "reason"}. A job whose name
    prefix has a scripted outcome list takes the next outcome; otherwise it stays InProgress
    until ``finish()``."""

    def __init__(self, root: Path, script: dict[str, list[str]] | None = None) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.script = {k: list(v) for k, v in (script or {}).items()}
        self.started: list[JobSpec] = []
        self.stopped: list[str] = []

    def _path(self, name: str) -> Path:
        return self.root / f"{name}.json"

    def _write(self, name: str, state: str, reason: str) -> None:  # atomic: readers never see half a file
        tmp = self.root / f".{name}.{uuid.uuid4().hex}.tmp"
        tmp.write_text(json.dumps({"state": state, "reason": reason}))
        os.replace(tmp, self._path(name))

    def start(self, spec: JobSpec) -> str:
        if self._path(spec.name).exists():
            raise Conflict("taken", field="name")
        self.started.append(spec)
        prefix = spec.name.rsplit("-", 5)[0]
        outcomes = self.script.get(prefix)
        state = outcomes.pop(0) if outcomes else "InProgress"
        self._write(spec.name, state, f"scripted {state}")
        return spec.name

    def describe(self, name: str) -> JobStatus:
        if not self._path(name).exists():
            raise NotFound(f"no job {name}", field="name")
        data = json.loads(self._path(name).read_text())
        return JobStatus(
            name=name,
            state=data["state"],
            failure_reason=data["reason"] if data["state"] == "Failed" else None,
            model_artifacts=f"/artifacts/{name}/model.tar.gz",
        )

    def stop(self, name: str) -> None:
        self.stopped.append(name)
        self._write(name, "Stopped", "stopped")

    def logs(self, name: str, *, start: int = 0) -> tuple[list[str], int]:
        return [], start

    def finish(self, name: str, state: str = "Completed") -> None:
        self._write(name, state, "told")


def slot_steps(store: SqliteEventStore) -> dict[str, Any]:
    """The job steps' admit / release, real, on the run's store (these runs have no owner: uncapped)."""
    from types import SimpleNamespace

    from domain.jobqueue import Caps
    from runtime.services.job_slots import JobSlots
    from runtime.workflows.steps import job_slots

    return job_slots.steps(SimpleNamespace(job_slots=JobSlots(store, lambda project: Caps(8, 4))))  # type: ignore[no-any-return]


def steps() -> dict[str, Any]:
    return {
        "validate_compile_request": lambda doc: {"ok": True},
        "verify_compile": lambda p: {"max_abs_diff": 1e-4, "job": p["job"]["name"]},
        "record_compile": lambda p: {"recorded": p["compile_id"]},
        "prepare_training_data": lambda p: {
            "train_uri": "/d/train",
            "validation_uri": "/d/val",
            "test_uri": "/d/test",
            "init_uri": "/d",
            "init_model": "",
        },
        "register_artifacts": lambda p: {"model": p["model"]["model_artifacts"]},
    }


COMPILE_INPUT = {
    "compile_id": "c1",
    "model_version_id": "mv1",
    "model_uri": "/m/mv1",
    "target": "onnx-int8",
    "recipe": {"opset": 18},
    "output_uri": "/out",
}
WORKFLOWS = {name: build(poll_seconds=0, retry_interval_s=0) for name, build in d.WORKFLOWS.items()}


def make_runner(db_path: Path, jobs: FileJobs, **kw: Any) -> tuple[LocalWorkflowRunner, SqliteEventStore]:
    store = SqliteEventStore(Database(db_path))
    runner = LocalWorkflowRunner(
        store,
        jobs,
        workflows=WORKFLOWS,
        steps={**steps(), **slot_steps(store)},
        poll_interval_s=0.01,
        time_scale=0,
        substitutions=d.DEFAULT_SUBSTITUTIONS,
        **kw,
    )
    return runner, store


def types(store: SqliteEventStore, run_id: str) -> list[str]:
    return [
        e.type.split(".", 1)[1] + (f":{e.data['step']}" if "step" in e.data and e.data["step"] else "")
        for e in store.read(f"workflowrun-{run_id}")
    ]


def test_compile_happy_path_records_steps_and_timing(tmp_path: Path) -> None:
    jobs = FileJobs(tmp_path / "jobs", {"tlm-compile": ["Completed"], "tlm-package": ["Completed"]})
    runner, store = make_runner(tmp_path / "t.db", jobs)
    run_id = runner.start("compile", COMPILE_INPUT)
    state = runner.wait(run_id, timeout=10)
    assert state.status == "succeeded", state
    assert state.output["recorded"] == {"recorded": "c1"}
    assert state.output["package"]["model_artifacts"].endswith("model.tar.gz")
    compile_spec = jobs.started[0]
    assert compile_spec.program == "compile" and compile_spec.hyperparameters["target"] == "onnx-int8"
    assert compile_spec.channels == {"model": "/m/mv1"} and compile_spec.instance_type == "ml.c6i.2xlarge"
    assert jobs.started[1].channels == {"model": compile_spec.name and f"/artifacts/{compile_spec.name}/model.tar.gz"}
    shown = WorkflowService(store, runner).show_run(run_id)
    assert [s["step"] for s in shown["steps"] if not s["step"].startswith(("Compile ", "Package "))] == [
        "Validate", "Compile", "Verify", "Package", "Record"]  # fmt: skip  (besides each job's admit / release)
    assert all(s["status"] == "succeeded" and s["duration_s"] >= 0 for s in shown["steps"])
    assert next(s["job"] for s in shown["steps"] if s["step"] == "Compile") == compile_spec.name
    assert WorkflowService(store).list_runs(workflow="compile")[0]["status"] == "succeeded"


def test_job_failing_once_is_retried_then_succeeds(tmp_path: Path) -> None:
    jobs = FileJobs(tmp_path / "jobs", {"tlm-compile": ["Failed", "Completed"], "tlm-package": ["Completed"]})
    runner, store = make_runner(tmp_path / "t.db", jobs)
    run_id = runner.start("compile", COMPILE_INPUT)
    final = runner.wait(run_id, timeout=10)
    assert final.status == "succeeded", (final, types(store, run_id))
    seen = types(store, run_id)
    assert seen[seen.index("step_failed:Compile") + 1] == "step_retried:Compile"
    assert len([j for j in jobs.started if j.program == "compile"]) == 2  # a new job, a new name


def test_job_failing_for_good_is_caught_and_recorded(tmp_path: Path) -> None:
    jobs = FileJobs(tmp_path / "jobs", {"tlm-compile": ["Failed", "Failed"]})
    runner, store = make_runner(tmp_path / "t.db", jobs)
    run_id = runner.start("compile", COMPILE_INPUT)
    state = runner.wait(run_id, timeout=10)
    assert state.status == "failed" and state.error == d.WORKFLOW_FAILED
    recorded = [e for e in store.read(f"workflowrun-{run_id}") if e.type == "workflowrun.failure_recorded"]
    assert recorded[0].data == {"workflow": "compile", "error": m.JOB_FAILED, "cause": "scripted Failed"}
    assert "step_caught:Compile" in types(store, run_id)


def test_cancel_stops_the_running_job(tmp_path: Path) -> None:
    jobs = FileJobs(tmp_path / "jobs")  # the compile job never finishes by itself
    runner, store = make_runner(tmp_path / "t.db", jobs)
    run_id = runner.start("compile", COMPILE_INPUT)
    deadline = time.time() + 10
    while not jobs.started and time.time() < deadline:
        time.sleep(0.01)
    runner.cancel(run_id, reason="user asked")
    state = runner.wait(run_id, timeout=10)
    assert state.status == "cancelled"
    assert set(jobs.stopped) == {jobs.started[0].name}  # stop is idempotent; cancel and the run both ask
    assert types(store, run_id)[-2:] == ["cancel_requested", "cancelled:Compile"]
    with pytest.raises(Conflict):
        runner.cancel(run_id)


# ---------------------------------------------------------------- crash and resume

CHILD = Path(__file__).resolve()


def _child(db: str, jobs_dir: str, run_id: str) -> None:
    """Runs in a subprocess: start a compile run and wait forever (the test SIGKILLs us)."""
    runner, _ = make_runner(Path(db), FileJobs(Path(jobs_dir)))
    runner.start("compile", COMPILE_INPUT, run_id=run_id)
    time.sleep(600)


def _crash_mid_job(tmp_path: Path) -> tuple[str, FileJobs, str]:
    db, jobs_dir, run_id = tmp_path / "t.db", tmp_path / "jobs", "crashy"
    proc = subprocess.Popen(
        [sys.executable, str(CHILD), str(db), str(jobs_dir), run_id],
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(CHILD.parents[2]), os.environ.get("PYTHONPATH", "")])},
    )
    try:
        store = SqliteEventStore(Database(db))
        deadline = time.time() + 30
        while time.time() < deadline:
            launched = any(e.type == "workflowrun.job_launched" for e in store.read(f"workflowrun-{run_id}"))
            if launched and any(jobs_dir.glob("*.json")):  # recorded first, then started
                break
            time.sleep(0.05)
        else:
            raise AssertionError("the child never launched its job")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    job_name = next(iter(jobs_dir.glob("*.json"))).stem
    return run_id, FileJobs(jobs_dir, {"tlm-package": ["Completed"]}), job_name


def test_killed_runner_resumes_by_reattaching_to_its_job(tmp_path: Path) -> None:
    # Given a runner process SIGKILLed while its compile job runs
    run_id, jobs, job_name = _crash_mid_job(tmp_path)
    runner, store = make_runner(tmp_path / "t.db", jobs)
    assert runner.state(run_id).status == "running" and runner.state(run_id).job_name == job_name
    # When a new runner starts on the same database and the job finishes
    assert runner.resume_incomplete() == [run_id]
    jobs.finish(job_name)
    # Then the run carries on from the same job (no second compile job) and succeeds
    final = runner.wait(run_id, timeout=10)
    assert final.status == "succeeded", (final, types(store, run_id))
    assert [s.program for s in jobs.started] == ["package"]
    seen = types(store, run_id)
    assert seen.count("job_launched:Compile") == 1 and seen[-1] == "succeeded"
    print("\n".join(seen))


def test_killed_runner_whose_job_is_gone_fails_cleanly(tmp_path: Path) -> None:
    # Given a crash mid-job and a job that did not survive (its record is gone)
    run_id, jobs, job_name = _crash_mid_job(tmp_path)
    (jobs.root / f"{job_name}.json").unlink()
    jobs.script["tlm-compile"] = ["Failed"]  # the retry's job fails as well
    runner, store = make_runner(tmp_path / "t.db", jobs)
    # When resumed
    runner.resume_incomplete()
    state = runner.wait(run_id, timeout=10)
    # Then the lost job is a step failure (retried once, then caught and recorded), not a hang
    assert state.status == "failed"
    failures = [e.data for e in store.read(f"workflowrun-{run_id}") if e.type == "workflowrun.step_failed"]
    assert failures[0]["error"] == m.JOB_LOST and job_name in failures[0]["cause"]
    assert any(e.type == "workflowrun.failure_recorded" for e in store.read(f"workflowrun-{run_id}"))
    assert runner.resume_incomplete() == []


if __name__ == "__main__":
    _child(*sys.argv[1:4])
