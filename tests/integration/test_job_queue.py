"""The job queue (runtime.services.job_queue) on a real SQLite event store and the real local
job runner: caps per user and per project, queue positions, stop while queued, and two queue
instances (two processes) sharing one store."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import pytest

from domain.events import EventMetadata
from domain.jobqueue import STREAM, Caps, JobAdmitted, JobQueued
from domain.records import NewEvent
from runtime.adapters.local_jobs import LocalJobRunner
from runtime.adapters.sqlite.db import Database
from runtime.adapters.sqlite.event_store import SqliteEventStore
from runtime.ports import JobSpec
from runtime.services.job_queue import PROJECT_ENV, USER_ENV, QueuedJobRunner

pytestmark = pytest.mark.integration
FAKE = str(Path(__file__).parent / "_fake_job.py")
ACTIVE = ("Pending", "InProgress", "Stopping")


@pytest.fixture
def parts(tmp_path):
    runner = LocalJobRunner(tmp_path / "jobs", grace_s=1.0)
    runner.register_program("train", FAKE)
    store = SqliteEventStore(Database(tmp_path / "tlm.db"))
    return runner, store


def spec(name: str, user: str = "alice", project: str = "p1", **hps) -> JobSpec:
    env = {USER_ENV: user, PROJECT_ENV: project}
    return JobSpec(name=name, program="train", hyperparameters=hps, max_runtime_s=30, environment=env)


def settle(q, name: str, timeout: float = 20):
    deadline = time.monotonic() + timeout
    while (st := q.describe(name)).state in ACTIVE:
        assert time.monotonic() < deadline, f"{name} still {st.state}"
        time.sleep(0.05)
    return st


def test_a_capped_users_third_job_waits_with_its_position_then_runs(parts):
    runner, store = parts
    q = QueuedJobRunner(runner, store, lambda project: Caps(max_jobs=10, max_jobs_per_user=2))
    # Given two slots for alice, When she starts three jobs
    q.start(spec("a1", steps=4, sleep=0.3))
    q.start(spec("a2", steps=4, sleep=0.3))
    q.start(spec("a3", steps=1))
    # Then the third waits in the queue, first in line; the real runner has not heard of it
    st = q.describe("a3")
    assert (st.state, st.queue_position) == ("Pending", 1)
    assert {j for j in ("a1", "a2") if runner.describe(j).state in ACTIVE} == {"a1", "a2"}
    assert q.logs("a3") == ([], 0)
    # and bob, in the same project, is not held back by alice's cap
    q.start(spec("b1", user="bob", steps=1))
    assert q.describe("b1").queue_position is None
    # When a slot frees, Then polling describe admits the third job, which runs to the end
    assert settle(q, "a3").state == "Completed"
    assert runner.describe("a3").state == "Completed"
    assert q.position("a3") is None


def test_the_project_cap_counts_every_member_and_the_queue_keeps_order(parts):
    runner, store = parts
    q = QueuedJobRunner(runner, store, lambda project: Caps(max_jobs=1, max_jobs_per_user=5))
    q.start(spec("j1", user="u1", steps=3, sleep=0.2))
    q.start(spec("j2", user="u2", steps=1))
    q.start(spec("j3", user="u3", steps=1))
    q.start(spec("other", user="u3", project="p2", steps=1))  # another project: its own slot
    assert [q.describe(n).queue_position for n in ("j2", "j3", "other")] == [1, 2, None]
    assert settle(q, "j2").state == "Completed"
    assert settle(q, "j3").state == "Completed"


def test_stopping_a_queued_job_withdraws_it_and_frees_its_place(parts):
    runner, store = parts
    q = QueuedJobRunner(runner, store, lambda project: Caps(max_jobs=1, max_jobs_per_user=1))
    q.start(spec("r1", steps=3, sleep=0.2))
    q.start(spec("w1", steps=1))
    q.start(spec("w2", steps=1))
    q.stop("w1")
    st = q.describe("w1")
    assert (st.state, st.failure_reason) == ("Stopped", "stopped while queued")
    assert q.describe("w2").queue_position == 1
    assert settle(q, "w2").state == "Completed"
    with pytest.raises(Exception, match="already exists"):
        q.start(spec("w1"))


def test_two_queue_instances_on_one_store_never_exceed_the_cap(parts):
    # Given two processes' queues on the same event store and one slot for the user
    runner, store = parts
    caps = lambda project: Caps(max_jobs=10, max_jobs_per_user=1)  # noqa: E731
    q1, q2 = QueuedJobRunner(runner, store, caps), QueuedJobRunner(runner, store, caps)
    q1.start(spec("x1", steps=3, sleep=0.2))
    q2.start(spec("x2", steps=1))  # q2 sees x1 running through the store
    q1.start(spec("x3", steps=1))
    assert q2.describe("x2").queue_position == 1 and q1.describe("x3").queue_position == 2
    # When both poll, Then the jobs run one at a time, in order
    seen_running = set()
    deadline = time.monotonic() + 30
    while any(q.describe(n).state in ACTIVE for q, n in ((q1, "x1"), (q2, "x2"), (q1, "x3"))):
        running = {n for n in ("x1", "x2", "x3") if runner_state(runner, n) == "InProgress"}
        assert len(running) <= 1, running
        seen_running |= running
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert [runner.describe(n).state for n in ("x1", "x2", "x3")] == ["Completed"] * 3


def runner_state(runner, name):
    try:
        return runner.describe(name).state
    except Exception:
        return None


def test_a_job_without_an_owner_runs_uncapped(parts):
    runner, store = parts
    q = QueuedJobRunner(runner, store, lambda project: Caps(max_jobs=1, max_jobs_per_user=1))
    q.start(JobSpec(name="free1", program="train", hyperparameters={"steps": 2, "sleep": 0.2}))
    q.start(JobSpec(name="free2", program="train", hyperparameters={"steps": 1}))
    assert q.describe("free2").queue_position is None
    assert settle(q, "free2").state == "Completed"
    assert store.version("jobqueue-all") == 0


def test_a_training_job_belongs_to_who_requested_the_training(parts):
    from domain.trainings import TRAININGS, RequestTraining
    from runtime.services.commands import Caller, execute
    from runtime.services.job_queue import job_scope

    _, store = parts
    cmd = RequestTraining(training_id="t1", project_id="p9", name="n", config_id="c", config_version=1, family="bert",
                          dataset_id="d", run_id="t1")  # fmt: skip
    execute(store, TRAININGS, "t1", cmd, Caller("carol"))
    scope = job_scope(store)
    assert scope(JobSpec(name="tlm-train-x", program="train", hyperparameters={"training_id": "t1"})) == ("carol", "p9")
    assert scope(JobSpec(name="tlm-train-y", program="train", hyperparameters={"training_id": "nope"})) is None
    assert scope(spec("z", user="dave", project="p2")) == ("dave", "p2")


def test_a_job_admitted_but_never_started_is_started_by_the_next_round(parts):
    # Given a process that recorded the admission and died before starting the job
    runner, store = parts
    lost = spec("lost", steps=1)
    meta = EventMetadata(actor="t")
    queued = JobQueued(job="lost", user_id="alice", project_id="p1", spec=dataclasses.asdict(lost))
    store.append(STREAM, [NewEvent.of(queued, meta), NewEvent.of(JobAdmitted(job="lost"), meta)], 0)
    # When another job is started, Then the lost one is started too and both run to the end
    q = QueuedJobRunner(runner, store, lambda project: Caps(max_jobs=10, max_jobs_per_user=1))
    q.start(spec("next", steps=1))
    assert runner.describe("lost").state in ACTIVE + ("Completed",)
    assert settle(q, "lost").state == "Completed" and settle(q, "next").state == "Completed"
