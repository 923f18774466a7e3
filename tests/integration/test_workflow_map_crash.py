"""A Map of 6 jobs at concurrency 3 on the local runner with real subprocess jobs
(``LocalJobRunner`` + ``_counting_job.py``): the runner process is SIGKILLed after 2 items
finished; a new runner on the same database resumes the run and runs only the 4 unfinished
items again (job launches counted in a file), stopping the jobs the dead runner left behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from domain.workflows import model as m
from runtime.adapters.local_jobs.runner import LocalJobRunner
from runtime.adapters.local_workflows import LocalWorkflowRunner
from runtime.adapters.sqlite.db import Database
from runtime.adapters.sqlite.event_store import SqliteEventStore

pytestmark = [pytest.mark.integration, pytest.mark.slow]

HERE = Path(__file__).resolve()
JOB = str(HERE.with_name("_counting_job.py"))
RUN_ID = "map-crash"

ITEM = m.Workflow(
    name="item",
    start_at="Run",
    states=(
        m.JobTask(
            name="Run",
            job=m.JobTemplate(
                program="count_job",
                name_prefix="item",
                hyperparameters={"item": "$.id", "hold": "$.hold", "launches": "$.launches", "release": "$.release"},
            ),
            result_path="$.job",
            end=True,
        ),
    ),
)
MAP = m.Workflow(
    name="crashmap",
    start_at="Fan",
    states=(
        m.MapState(
            name="Fan", items_path="$.items", iterator=ITEM, max_concurrency=3, result_path="$.results", end=True
        ),
    ),
)


def make_runner(tmp: Path) -> tuple[LocalWorkflowRunner, SqliteEventStore, LocalJobRunner]:
    store = SqliteEventStore(Database(tmp / "t.db"))
    jobs = LocalJobRunner(tmp / "jobs", grace_s=2)
    jobs.register_program("count_job", JOB)
    runner = LocalWorkflowRunner(
        store, jobs, workflows={"crashmap": MAP}, substitutions={"ArtifactsUri": str(tmp / "artifacts")},
        poll_interval_s=0.05, time_scale=0,
    )  # fmt: skip
    return runner, store, jobs


def map_input(tmp: Path) -> dict[str, Any]:
    # items 0 and 1 finish at once; 2..5 hold until the test releases them
    return {
        "items": [
            {"id": i, "hold": i >= 2, "launches": str(tmp / "launches"), "release": str(tmp / "release")}
            for i in range(6)
        ]
    }


def _child(tmp: str) -> None:
    runner, _, _ = make_runner(Path(tmp))
    runner.start("crashmap", map_input(Path(tmp)), run_id=RUN_ID)
    time.sleep(600)


def launches(tmp: Path) -> Counter[int]:
    path = tmp / "launches"
    return Counter(int(x) for x in path.read_text().split()) if path.exists() else Counter()


def test_sigkill_inside_a_map_resumes_only_unfinished_items(tmp_path: Path) -> None:
    # Given a runner process running a Map of 6 jobs at concurrency 3
    proc = subprocess.Popen(
        [sys.executable, str(HERE), str(tmp_path)],
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE.parents[2]), os.environ.get("PYTHONPATH", "")])},
    )
    try:
        store = SqliteEventStore(Database(tmp_path / "t.db"))
        deadline = time.time() + 60
        while time.time() < deadline:
            done = [e for e in store.read(f"workflowrun-{RUN_ID}") if e.type == "workflowrun.iteration_succeeded"]
            if len(done) == 2 and len(launches(tmp_path)) == 5:  # 0, 1 done; 2, 3, 4 running
                break
            time.sleep(0.05)
        else:
            raise AssertionError(f"the map never got 2 items done: {launches(tmp_path)}")
    finally:
        # When the runner is SIGKILLed after 2 items finished
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert sorted(e.data["index"] for e in done) == [0, 1]
    before = launches(tmp_path)
    assert before == Counter({0: 1, 1: 1, 2: 1, 3: 1, 4: 1})

    # And a new runner resumes the run, with the held jobs released
    runner, store, jobs = make_runner(tmp_path)
    launched = [e.data["job_name"] for e in store.read(f"workflowrun-{RUN_ID}")
                if e.type == "workflowrun.iteration_job_launched"]  # fmt: skip
    assert runner.resume_incomplete() == [RUN_ID]
    # (the dead runner's held jobs are released only once the resumed run has stopped them: released
    # earlier, one could complete before the stop)
    deadline = time.monotonic() + 60
    while not all(jobs.describe(j).state == "Stopped" for j in launched[2:5]):
        assert time.monotonic() < deadline, [jobs.describe(j) for j in launched[2:5]]
        time.sleep(0.05)
    (tmp_path / "release").touch()
    final = runner.wait(RUN_ID, timeout=60)

    # Then the run succeeds, items 0 and 1 were not launched again, the others were
    assert final.status == "succeeded", final
    assert launches(tmp_path) == Counter({0: 1, 1: 1, 2: 2, 3: 2, 4: 2, 5: 1})
    assert [r["job"]["status"] for r in final.output["results"]] == ["Completed"] * 6
    events = [e for e in store.read(f"workflowrun-{RUN_ID}")]
    resumed = [e.data for e in events if e.type == "workflowrun.step_started"]
    assert resumed[-1] == {"step": "Fan", "attempt": 1, "resumed": True}
    succeeded = sorted(e.data["index"] for e in events if e.type == "workflowrun.iteration_succeeded")
    assert succeeded == [0, 1, 2, 3, 4, 5]
    # the jobs the dead runner left running (items 2, 3, 4, first launch) were stopped
    orphans = [e.data["job_name"] for e in events if e.type == "workflowrun.iteration_job_launched"][2:5]
    assert all(jobs.describe(j).state == "Stopped" for j in orphans), [jobs.describe(j) for j in orphans]
    print(json.dumps(sorted(launches(tmp_path).items())))


if __name__ == "__main__":
    _child(sys.argv[1])
