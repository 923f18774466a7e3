"""Job slots of workflow job steps (``runtime.services.job_slots``): the admit / release states the
shipped workflows put around every job (``runtime.workflows.job_slot_states``), the queue they
share with ``QueuedJobRunner`` (SQLite here; the same code on DynamoDB in test_job_slots_moto), and
``tlm projects limits`` showing what open uploads hold."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from domain.events import EventMetadata
from domain.job_requests import JOB_REQUESTS, JobRequested
from domain.jobqueue import STREAM, Caps
from domain.records import NewEvent
from domain.workflows.model import JOB_STOPPED, StepError
from runtime.adapters.local_jobs import LocalJobRunner
from runtime.adapters.sqlite.db import Database
from runtime.adapters.sqlite.event_store import SqliteEventStore
from runtime.services.job_queue import QueuedJobRunner
from runtime.services.job_slots import JobSlots, release_reaction
from runtime.workflows import asl
from runtime.workflows import definitions as d

pytestmark = pytest.mark.integration
CAPS = Caps(max_jobs=8, max_jobs_per_user=2)


def request(store: Any, name: str, user: str = "alice", project: str = "p1") -> dict[str, str]:
    """A job request's first event (who asked, which project): what the admit step reads."""
    e = JobRequested(job_name=name, kind="arch-test", project_id=project, workflow="arch-test", run_id=name)
    store.append(JOB_REQUESTS.stream_id(name), [NewEvent.of(e, EventMetadata(actor=user))], 0)
    return {"job_request": name}


@pytest.fixture
def slots(tmp_path: Path) -> JobSlots:
    return JobSlots(SqliteEventStore(Database(tmp_path / "tlm.db")), lambda project: CAPS)


@pytest.mark.parametrize("workflow", ["train", "compile", "arch-test", "demo-import"])
def test_every_job_state_is_admitted_before_and_released_after_on_every_exit(workflow: str) -> None:
    states = asl.render(d.WORKFLOWS[workflow]())["States"]
    jobs = [n for n, s in states.items() if s["Type"] == "Parallel"]
    assert jobs, "a job state (create + poll loop)"
    for n in jobs:
        # Given each job state: entered only from its admit loop
        into = sorted(k for k, s in states.items() if n in (s.get("Next"), *(c["Next"] for c in s.get("Choices", []))))
        assert into == [f"{n} admitted"]
        admit, admitted, queued = states[f"{n} admit"], states[f"{n} admitted"], states[f"{n} queued"]
        assert admit["Resource"] == "${Step_admit_job}" and admit["Next"] == f"{n} admitted"
        assert admit["Parameters"]["run_id.$"] == "$$.Execution.Name" and admit["ResultPath"] == "$.job_slot"
        assert admitted["Choices"] == [{"Variable": "$.job_slot.admitted", "BooleanEquals": True, "Next": n}]
        assert admitted["Default"] == f"{n} queued" and (queued["Type"], queued["Next"]) == ("Wait", f"{n} admit")
        # Then it leaves through a release on success and on every caught failure
        release, failed = states[f"{n} release"], states[f"{n} release after failure"]
        assert states[n]["Next"] == f"{n} release"
        assert [c["Next"] for c in states[n]["Catch"]] == [f"{n} release after failure"]
        assert release["Resource"] == failed["Resource"] == "${Step_release_job}"
        assert failed["Parameters"]["state"] == "Failed" and failed["Next"] == "RecordFailure"
        assert release["ResultPath"] is None and failed["ResultPath"] is None  # the job's result and error stay
    sync = asl.render(d.WORKFLOWS[workflow](), sync_jobs=True)["States"]
    assert all(sync[n]["Next"] == f"{n} release" for n in jobs)


def test_a_capped_users_third_slot_waits_with_its_position_then_is_admitted(slots: JobSlots) -> None:
    owners = {n: request(slots.store, n) for n in ("a", "b", "c")}
    assert slots.admit("a", "Test", "a", owners["a"])["admitted"]
    assert slots.admit("b", "Test", "b", owners["b"])["admitted"]
    assert slots.admit("c", "Test", "c", owners["c"]) == {"slot": "c", "admitted": False, "position": 1}
    assert slots.admit("c", "Test", "c", owners["c"])["position"] == 1  # asking again: still waiting, queued once
    assert slots.position_of_run("c") == 1 and slots.position_of_run("a") is None
    # another user is not held back by alice's cap
    assert slots.admit("r1", "Train", owner=request(slots.store, "bob1", user="bob"))["admitted"]
    slots.release("a", "Test", "a")
    assert slots.admit("c", "Test", "c", owners["c"])["admitted"]
    assert slots.admit("c", "Test", "c", owners["c"])["admitted"]  # a repeated admit (a retried Lambda) holds one slot
    types = [r.type for r in slots.store.read(STREAM)]
    assert types.count("jobqueue.queued") == 4 and types.count("jobqueue.admitted") == 4


def test_release_is_idempotent_and_a_runs_end_frees_what_it_still_holds(slots: JobSlots) -> None:
    owner = request(slots.store, "x")
    slots.admit("run1", "Train", owner=owner)
    assert slots.release("run1", "Train", state="Failed") == {"slot": "run1:Train", "released": True}
    assert slots.release("run1", "Train")["released"] is False  # the Catch path, then the run's end
    assert slots.release_run("run1") == []
    version = len(slots.store.read(STREAM))
    # a run that ends holding a slot (aborted mid-job) and waiting for another
    slots.admit("run2", "Train", owner=owner)
    slots.admit("run2", "Evaluate", owner=owner)
    slots.admit("run3", "Train", owner=owner)  # alice's third: waits
    assert slots.position_of_run("run3") == 1
    reaction = release_reaction(lambda: slots)

    class Ended:
        stream_id, type = "workflowrun-run2", "workflowrun.cancelled"

    reaction.handle(Ended())  # type: ignore[arg-type]
    assert slots.release_run("run2") == []  # nothing left: a redelivery frees nothing more
    assert slots.admit("run3", "Train", owner=owner)["admitted"]
    assert len(slots.store.read(STREAM)) > version


def test_a_slot_withdrawn_while_queued_stops_its_step(tmp_path: Path, slots: JobSlots) -> None:
    # Given alice's two slots taken and a third job (fixed name) waiting for one
    owners = [request(slots.store, n) for n in ("j1", "j2", "j3")]
    for n, owner in zip(("j1", "j2", "j3"), owners, strict=True):
        slots.admit(n, "Test", n, owner)
    # When the waiting job is cancelled through the job API (QueuedJobRunner.stop on the same queue)
    runner = QueuedJobRunner(LocalJobRunner(tmp_path / "jobs"), slots.store, lambda p: CAPS)
    assert (runner.describe("j3").state, runner.describe("j3").queue_position) == ("Pending", 1)
    runner.stop("j3")
    assert runner.describe("j3").state == "Stopped"
    # Then its admit step fails as a stopped job (the run's Catch path takes it), and never re-queues
    with pytest.raises(StepError) as e:
        slots.admit("j3", "Test", "j3", owners[2])
    assert e.value.error == JOB_STOPPED
    # and the runner does not start or release workflow slots itself
    assert runner.position("j1") is None and "j1" in runner._refresh().running


def test_a_step_with_no_owner_runs_uncapped(slots: JobSlots) -> None:
    for i in range(4):
        assert slots.admit(f"r{i}", "Compile", owner={"compile_id": "unknown"})["admitted"]
    assert slots.store.read(STREAM) == []


def test_tlm_limits_prints_the_storage_in_open_uploads(monkeypatch: pytest.MonkeyPatch) -> None:
    from tlm.cli import main

    class Client:
        def limits(self, project_id: str) -> dict[str, Any]:
            return {"project_id": project_id, "limits": {"storage_bytes": 10**9}, "storage_used": 1500,
                    "storage_in_open_uploads": 1200}  # fmt: skip

    monkeypatch.setattr(main, "client", lambda: Client())
    result = CliRunner().invoke(main.app, ["projects", "limits", "p1"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "storage in open uploads (bytes)" in result.output and "1,200" in result.output
