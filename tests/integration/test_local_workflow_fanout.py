"""Map, Parallel and child runs on the local runner (real SQLite, scripted in-memory jobs):
max_concurrency bounds the running items, a failed item stops its siblings, cancel reaches every
item's job and every child run."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from domain.workflows import model as m
from runtime.adapters.local_workflows import LocalWorkflowRunner
from runtime.adapters.sqlite.db import Database
from runtime.adapters.sqlite.event_store import SqliteEventStore
from tests.workflow_scenarios import CHILD, PARENT, ScriptedJobs, job, wf

pytestmark = pytest.mark.integration

ITEM = wf("item", job("Work"))


def fan(width: int) -> m.Workflow:
    return wf("fan", m.MapState(name="Each", items_path="$.items", iterator=ITEM, max_concurrency=width, end=True))


def make(tmp: Path, *workflows: m.Workflow) -> tuple[LocalWorkflowRunner, SqliteEventStore, ScriptedJobs]:
    store = SqliteEventStore(Database(tmp / "t.db"))
    jobs = ScriptedJobs()
    runner = LocalWorkflowRunner(
        store, jobs, workflows={w.name: w for w in workflows}, poll_interval_s=0.01, time_scale=0
    )
    return runner, store, jobs


def until(check: Any, what: str) -> None:
    deadline = time.time() + 10
    while not check():
        assert time.time() < deadline, what
        time.sleep(0.01)


def items(*outcomes: str) -> dict[str, Any]:
    return {"items": [{"id": i, "outcomes": [o]} for i, o in enumerate(outcomes)]}


def test_max_concurrency_bounds_the_running_items(tmp_path: Path) -> None:
    runner, store, jobs = make(tmp_path, fan(2))
    run_id = runner.start("fan", items(*["InProgress"] * 5))
    seen = 0
    while seen < 5:  # finish the running jobs one at a time; never more than 2 at once
        until(lambda: len(jobs.states) > seen, "no next job")
        time.sleep(0.05)
        assert len(jobs.running()) <= 2
        seen = len(jobs.states)
        jobs.finish(jobs.running()[0])
    for name in jobs.running():
        jobs.finish(name)
    assert runner.wait(run_id, timeout=10).status == "succeeded"
    ends = [e.data["index"] for e in store.read(f"workflowrun-{run_id}") if e.type == "workflowrun.iteration_succeeded"]
    assert sorted(ends) == [0, 1, 2, 3, 4]


def test_a_failed_item_stops_its_siblings_and_fails_the_map(tmp_path: Path) -> None:
    runner, store, jobs = make(tmp_path, fan(3))
    run_id = runner.start("fan", items("InProgress", "InProgress", "Failed", "InProgress"))
    final = runner.wait(run_id, timeout=10)
    assert final.status == "failed" and final.error == m.JOB_FAILED
    assert len(jobs.states) == 3  # item 3 never started
    assert (
        sorted(jobs.stopped) == sorted(n for n, s in jobs.states.items() if s == "Stopped") and len(jobs.stopped) == 2
    )


def test_cancel_stops_every_item_job(tmp_path: Path) -> None:
    runner, store, jobs = make(tmp_path, fan(3))
    run_id = runner.start("fan", items("InProgress", "InProgress", "InProgress"))
    until(lambda: len(jobs.states) == 3, "3 jobs")
    runner.cancel(run_id, reason="enough")
    assert runner.wait(run_id, timeout=10).status == "cancelled"
    assert sorted(set(jobs.stopped)) == sorted(jobs.states) and not jobs.running()


def test_parallel_runs_branches_at_once(tmp_path: Path) -> None:
    both = wf("both", m.ParallelState(name="Both", branches=(ITEM, ITEM), result_path="$.out", end=True))
    runner, _, jobs = make(tmp_path, both)
    run_id = runner.start("both", {"id": 1, "outcomes": ["InProgress"]})
    until(lambda: len(jobs.states) == 2, "both branches' jobs running together")
    for name in jobs.running():
        jobs.finish(name)
    final = runner.wait(run_id, timeout=10)
    assert final.status == "succeeded" and [o["job"]["status"] for o in final.output["out"]] == ["Completed"] * 2


def test_cancelling_a_parent_cancels_its_child_run(tmp_path: Path) -> None:
    runner, store, jobs = make(tmp_path, PARENT, CHILD)
    run_id = runner.start("scn-parent", {"id": 1, "outcomes": ["InProgress"]})
    until(lambda: jobs.states, "the child's job")
    child_id = next(
        e.data["child_run_id"] for e in store.read(f"workflowrun-{run_id}") if e.type == "workflowrun.child_started"
    )
    runner.cancel(run_id)
    assert runner.wait(run_id, timeout=10).status == "cancelled"
    child = runner.wait(child_id, timeout=10)
    assert child.status == "cancelled" and child.parent_run_id == run_id
    assert list(jobs.states.values()) == ["Stopped"]


def test_a_failed_child_fails_the_parent_step_as_task_failed(tmp_path: Path) -> None:
    runner, _, _ = make(tmp_path, PARENT, CHILD)
    final = runner.wait(runner.start("scn-parent", {"id": 1, "outcomes": ["Failed"]}), timeout=10)
    assert (
        final.status == "failed" and final.error == m.TASK_FAILED and '"error": "TLM.JobFailed"' in (final.cause or "")
    )
