"""One WorkflowEngine contract (``runtime.ports.WorkflowEngine``), run against the local runner
(real SQLite, scripted in-memory jobs) and the Step Functions runner on moto's engine executing
the rendered ASL (moto's SageMaker scripted the same way): start, show, cancel, list by workflow."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID

from domain.errors import Conflict, NotFound
from domain.workflows import model as m
from runtime.adapters.local_workflows import LocalWorkflowRunner
from runtime.adapters.sqlite.db import Database
from runtime.adapters.sqlite.event_store import SqliteEventStore
from runtime.adapters.stepfunctions.runner import StepFunctionsWorkflowRunner
from runtime.ports import RunInfo, WorkflowEngine
from runtime.workflows import asl
from tests.workflow_scenarios import ScriptedJobs, job, normalize, script_sagemaker, wf

pytestmark = pytest.mark.contract

REGION = "us-east-1"
ONE_JOB = wf("one-job", job("Work", next="Mark"), m.Pass(name="Mark", result="done", result_path="$.mark", end=True))
CANCELLABLE = wf("cancellable", job("Work"))  # on moto its job loop polls every 1 s
INSTANT = wf("instant", m.Pass(name="Only", result=1, result_path="$.one", end=True))
WORKFLOWS = {w.name: w for w in (ONE_JOB, CANCELLABLE, INSTANT)}
SUBS = {
    "SageMakerRoleArn": f"arn:aws:iam::{DEFAULT_ACCOUNT_ID}:role/tlm-sagemaker",
    "TrainingImage": f"{DEFAULT_ACCOUNT_ID}.dkr.ecr.{REGION}.amazonaws.com/tlm-jobs:latest",
    "ArtifactsUri": "s3://tlm-artifacts/jobs",
}


@pytest.fixture(params=["local", "stepfunctions"])
def engine(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[WorkflowEngine]:
    if request.param == "local":
        store = SqliteEventStore(Database(tmp_path / "t.db"))
        yield LocalWorkflowRunner(store, ScriptedJobs(), workflows=WORKFLOWS, poll_interval_s=0.01, time_scale=0)
        return
    script_sagemaker(monkeypatch)
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        sfn = boto3.client("stepfunctions", region_name=REGION)
        role = f"arn:aws:iam::{DEFAULT_ACCOUNT_ID}:role/tlm-sfn"
        arns = {}
        for name, w in WORKFLOWS.items():
            # a 1 s poll: a cancel lands in the job loop's Wait (see test_asl_moto)
            poll = 1 if w is CANCELLABLE else 0
            body = json.dumps(asl.render(w, substitutions=SUBS, poll_seconds=poll))
            arns[name] = sfn.create_state_machine(name=name, definition=body, roleArn=role)["stateMachineArn"]
        yield StepFunctionsWorkflowRunner(sfn, arns, workflows=WORKFLOWS)


def ended(engine: WorkflowEngine, run_id: str, timeout: float = 30) -> Any:
    deadline = time.time() + timeout
    while (state := engine.state(run_id)).status in ("running", "cancelling"):
        assert time.time() < deadline, f"run {run_id} did not end"
        time.sleep(0.05)
    return state


def test_start_then_show_the_finished_run(engine: WorkflowEngine) -> None:
    run_id = engine.start("one-job", {"id": 1, "outcomes": ["Completed"]}, run_id="run-1")
    assert run_id == "run-1"
    state = ended(engine, run_id)
    assert state.status == "succeeded" and state.run_id == "run-1" and state.workflow == "one-job"
    assert normalize(state.output) == {"id": 1, "outcomes": ["Completed"], "job": "Completed", "mark": "done"}


def test_a_failed_job_fails_the_run_with_its_error(engine: WorkflowEngine) -> None:
    state = ended(engine, engine.start("one-job", {"id": 2, "outcomes": ["Failed"]}))
    assert state.status == "failed" and state.error == m.JOB_FAILED


def test_cancel_a_running_run_then_cancel_again_is_a_conflict(engine: WorkflowEngine) -> None:
    run_id = engine.start("cancellable", {"id": 3, "outcomes": ["InProgress"]})
    time.sleep(0.3)
    engine.cancel(run_id, reason="contract")
    assert ended(engine, run_id).status == "cancelled"
    with pytest.raises(Conflict):
        engine.cancel(run_id)


def test_unknown_runs_and_workflows_are_not_found(engine: WorkflowEngine) -> None:
    with pytest.raises(NotFound):
        engine.state("no-such-run")
    with pytest.raises(NotFound):
        engine.start("no-such-workflow", {})
    with pytest.raises(NotFound):
        engine.list_runs("no-such-workflow")


def test_a_used_run_id_never_starts_a_second_run(engine: WorkflowEngine) -> None:
    engine.start("instant", {"x": 1}, run_id="same")
    ended(engine, "same")
    with contextlib.suppress(Conflict):  # the local runner refuses; Step Functions answers the same run
        assert engine.start("instant", {"x": 1}, run_id="same") == "same"
    assert [r.run_id for r in engine.list_runs("instant")] == ["same"]


def test_list_runs_by_workflow(engine: WorkflowEngine) -> None:
    a = [engine.start("instant", {"n": i}) for i in range(2)]
    b = engine.start("one-job", {"id": 4, "outcomes": ["Completed"]})
    for run_id in (*a, b):
        ended(engine, run_id)
    listed = engine.list_runs("instant")
    assert sorted(r.run_id for r in listed) == sorted(a)
    assert all(isinstance(r, RunInfo) and r.workflow == "instant" and r.status == "succeeded" for r in listed)
    assert [r.run_id for r in engine.list_runs("one-job")] == [b]
    assert engine.resume_incomplete() == []
