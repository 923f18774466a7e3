"""Workflow runs on Step Functions (moto's engine executing the rendered compile workflow),
started, shown, listed and cancelled through the runner and read side that ``build_aws`` wires.

moto's fake SageMaker completes every job at once: ``describe_training_job`` is patched to
script the statuses per job (as in test_asl_moto.py), which drives the production poll loop.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.awslambda_simple.models import lambda_simple_backends
from moto.core import DEFAULT_ACCOUNT_ID

from domain.errors import Conflict, Forbidden, NotFound, Unavailable
from runtime.adapters.stepfunctions.names import execution_arn, state_machine_name
from runtime.adapters.stepfunctions.runner import StepFunctionsWorkflowRunner
from runtime.adapters.stepfunctions.service import StepFunctionsWorkflowService
from runtime.bootstrap import Container, build_aws
from runtime.projector import apply_event
from runtime.services.commands import Caller
from runtime.services.runs import RunsService
from runtime.settings import Settings
from runtime.workflows import asl
from runtime.workflows import definitions as d
from tests.aws_job_slots import slot_lambdas
from tests.aws_tables import ScriptedTrainingJobs, create_events_table, create_idempotency_table, create_views_table

pytestmark = pytest.mark.integration

REGION = "us-east-1"
PREFIX = "TlmTest"
SUBS = {
    **d.DEFAULT_SUBSTITUTIONS,
    "EventsTable": "tlm-events",
    "SageMakerRoleArn": f"arn:aws:iam::{DEFAULT_ACCOUNT_ID}:role/tlm-sagemaker",
    "TrainingImage": f"{DEFAULT_ACCOUNT_ID}.dkr.ecr.{REGION}.amazonaws.com/tlm-jobs:latest",
    **{f"Step_{fn}": f"arn:aws:lambda:{REGION}:{DEFAULT_ACCOUNT_ID}:function:tlm-step-{fn}" for fn in d.STEP_FUNCTIONS},
}
SETTINGS = {
    "backend": "aws",
    "region": REGION,
    "state_machine_prefix": PREFIX,
    "account_id": DEFAULT_ACCOUNT_ID,
}
ALICE = Caller(user_id="alice")


def compile_input(project_id: str | None) -> dict[str, Any]:
    return {
        "compile_id": "c1",
        "project_id": project_id,
        "model_version_id": "mv1",
        "model_uri": "s3://tlm-blobs/m/mv1",
        "target": "onnx-int8",
        "recipe": {"opset": 18},
        "output_uri": "s3://tlm-artifacts/compile/c1",
    }


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    statuses = ScriptedTrainingJobs().install(monkeypatch)
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}):
        ddb = boto3.client("dynamodb", region_name=REGION)
        create_events_table(ddb, "tlm-events", stream=False)
        create_views_table(ddb, "tlm-views")
        create_idempotency_table(ddb, "tlm-idempotency")
        boto3.client("s3", region_name=REGION).create_bucket(Bucket="tlm-blobs")
        slot_lambdas(monkeypatch, "tlm-events")  # the job steps' admit / release Lambdas run for real
        yield {"sfn": boto3.client("stepfunctions", region_name=REGION), "statuses": statuses}


def create_machine(sfn: Any, workflow: str, poll_seconds: int = 0) -> str:
    body = asl.render(d.WORKFLOWS[workflow](retry_interval_s=1), substitutions=SUBS, poll_seconds=poll_seconds)
    return str(
        sfn.create_state_machine(
            name=state_machine_name(PREFIX, workflow),
            definition=json.dumps(body),
            roleArn=f"arn:aws:iam::{DEFAULT_ACCOUNT_ID}:role/tlm-sfn",
        )["stateMachineArn"]
    )


def lambda_results(*results: Any) -> None:
    queue = lambda_simple_backends[DEFAULT_ACCOUNT_ID][REGION].lambda_simple_results_queue
    queue.extend(json.dumps(r) for r in results)


def container() -> Container:
    return build_aws(Settings(**SETTINGS))


def wait_for(check: Any, timeout: float = 30) -> Any:
    deadline = time.time() + timeout
    while not (got := check()):
        assert time.time() < deadline, "timed out"
        time.sleep(0.05)
    return got


def test_build_aws_wires_the_step_functions_runner_and_read_side(aws: dict[str, Any]) -> None:
    c = container()
    assert isinstance(c.workflows, StepFunctionsWorkflowRunner)
    assert c.workflows.machines["compile"] == (
        f"arn:aws:states:{REGION}:{DEFAULT_ACCOUNT_ID}:stateMachine:{PREFIX}-compile"
    )
    assert c.workflows.resume_incomplete() == []
    assert isinstance(c.runs, StepFunctionsWorkflowService)
    assert isinstance(c.project_runs, RunsService) and c.project_runs.details is c.runs
    # without the state machine settings: the clear 503, for workflows and for jobs
    bare = build_aws(Settings(backend="aws", region=REGION))
    with pytest.raises(Unavailable, match="TLM_STATE_MACHINE_PREFIX"):
        _ = bare.workflows
    with pytest.raises(Unavailable, match="TLM_SAGEMAKER_ROLE_ARN"):
        _ = bare.jobs


def test_build_aws_wires_sagemaker_jobs_from_settings(aws: dict[str, Any]) -> None:
    from runtime.adapters.sagemaker.runner import SageMakerJobRunner

    c = build_aws(
        Settings(
            **SETTINGS,
            sagemaker_role_arn=SUBS["SageMakerRoleArn"],
            job_image_uri=SUBS["TrainingImage"],
            job_image_uris={"train": "img/train:1"},
        )
    )
    runner = c.jobs.inner  # behind the per-user / per-project job queue
    assert isinstance(runner, SageMakerJobRunner)
    assert runner._images["compile"] == SUBS["TrainingImage"] and runner._images["train"] == "img/train:1"


def test_a_run_is_started_shown_with_steps_and_listed(aws: dict[str, Any]) -> None:
    # Given the compile state machine, with a compile job that fails once (then a retry succeeds)
    create_machine(aws["sfn"], "compile")
    aws["statuses"].plans["tlm-compile"] = [["Failed"], ["InProgress", "Completed"]]
    lambda_results({"ok": True}, {"max_abs_diff": 0.0}, {"recorded": True})
    c = container()
    # When a run starts through the runner
    run_id = c.workflows.start("compile", compile_input("p1"), run_id="run-ok-1")
    assert run_id == "run-ok-1"
    run = wait_for(lambda: (r := c.runs.show_run(run_id))["status"] != "running" and r)
    # Then show_run reports it like a local run: status, timing, per-step attempts with their jobs
    assert run["status"] == "succeeded" and run["workflow"] == "compile" and run["error"] is None
    assert run["duration_s"] is not None and run["duration_s"] >= 0
    assert run["output"]["recorded"] == {"recorded": True}
    steps = [(s["step"], s["attempt"], s["status"]) for s in run["steps"]]
    assert steps == [
        ("Validate", 1, "succeeded"),
        ("Compile admit", 1, "succeeded"),  # each job step holds a job slot (runtime.workflows.job_slot_states)
        ("Compile admitted", 1, "succeeded"),
        ("Compile", 1, "failed"),
        ("Compile", 2, "succeeded"),
        ("Compile release", 1, "succeeded"),
        ("Verify", 1, "succeeded"),
        ("Package admit", 1, "succeeded"),
        ("Package admitted", 1, "succeeded"),
        ("Package", 1, "succeeded"),
        ("Package release", 1, "succeeded"),
        ("Record", 1, "succeeded"),
    ]
    compile1, compile2 = run["steps"][3], run["steps"][4]
    assert compile1["error"] == {"error": "TLM.JobFailed", "cause": "scripted failure: CUDA out of memory"}
    assert compile1["job"].startswith("tlm-compile-") and compile2["job"].startswith("tlm-compile-")
    assert compile1["job"] != compile2["job"] and run["steps"][9]["job"].startswith("tlm-package-")
    for s in run["steps"]:
        assert s["started_at"] <= s["ended_at"] and s["duration_s"] is not None
    assert run["output"]["compile"]["name"] == compile2["job"]
    # and the state is the local runner's RunState
    state = c.workflows.state(run_id)
    assert state.status == "succeeded" and state.finished and state.workflow == "compile"
    # and list_runs finds it (without steps), by workflow and by status
    listed = c.runs.list_runs(workflow="compile")
    assert [r["run_id"] for r in listed] == [run_id] and "steps" not in listed[0]
    assert listed[0]["status"] == "succeeded" and listed[0]["started_at"] == run["started_at"]
    assert c.runs.list_runs(status="succeeded")[0]["run_id"] == run_id
    assert c.runs.list_runs(status="failed") == [] and c.runs.list_runs(workflow="train") == []
    # and an unknown run is a NotFound, a second start of the same run with other input a Conflict
    with pytest.raises(NotFound):
        c.runs.show_run("no-such-run")
    with pytest.raises(Conflict):
        c.workflows.start("compile", compile_input("p2"), run_id=run_id)


def test_a_failed_run_reports_its_caught_step_and_error(aws: dict[str, Any]) -> None:
    create_machine(aws["sfn"], "compile")
    aws["statuses"].plans["tlm-compile"] = [["Failed"], ["Failed"]]
    lambda_results({"ok": True})
    c = container()
    run_id = c.workflows.start("compile", compile_input("p1"), run_id="run-fails")
    run = wait_for(lambda: (r := c.runs.show_run(run_id))["status"] != "running" and r)
    assert run["status"] == "failed" and run["error"] == d.WORKFLOW_FAILED
    steps = [(s["step"], s["attempt"], s["status"]) for s in run["steps"]]
    assert steps == [
        ("Validate", 1, "succeeded"),
        ("Compile admit", 1, "succeeded"),
        ("Compile admitted", 1, "succeeded"),
        ("Compile", 1, "failed"),
        ("Compile", 2, "failed"),
        ("Compile release after failure", 1, "succeeded"),  # the Catch path frees the job slot too
        ("RecordFailure", 1, "succeeded"),
    ]
    assert run["steps"][4]["error"]["error"] == "TLM.JobFailed"


def test_cancel_mid_poll_aborts_the_execution(aws: dict[str, Any]) -> None:
    # Given a run whose compile job never finishes (a 5 s poll: the stop lands in the Wait)
    create_machine(aws["sfn"], "compile", poll_seconds=5)
    aws["statuses"].plans["tlm-compile"] = [["InProgress"]]
    lambda_results({"ok": True})
    c = container()
    run_id = c.workflows.start("compile", compile_input("p1"), run_id="run-to-cancel")
    running = wait_for(
        lambda: (r := c.runs.show_run(run_id))["current_step"] == "Compile" and r["steps"][-1]["job"] and r
    )
    assert running["status"] == "running" and running["ended_at"] is None
    assert running["steps"][-1]["status"] == "running" and running["steps"][-1]["job"].startswith("tlm-compile-")
    assert c.workflows.state(run_id).job_name == running["steps"][-1]["job"]
    execution = execution_arn(c.workflows.machines["compile"], run_id)
    wait_for(lambda: any(e["type"] == "WaitStateEntered" for e in c.workflows.history(execution)))
    # When it is cancelled through the read side (as the API does)
    c.runs.cancel_run(run_id, reason="user asked")
    # Then the execution is ABORTED and the run cancelled, its open step too (moto's engine thread
    # writes ExecutionAborted a moment after DescribeExecution says ABORTED, and without the stop's
    # error and cause: wait for the history, do not check the cause)
    run = wait_for(
        lambda: (r := c.runs.show_run(run_id))["status"] != "running" and r["steps"][-1]["status"] != "running" and r
    )
    assert run["status"] == "cancelled" and run["ended_at"] is not None
    assert aws["sfn"].describe_execution(executionArn=execution)["status"] == "ABORTED"
    assert run["steps"][-1]["step"] == "Compile" and run["steps"][-1]["status"] == "cancelled"
    assert c.runs.list_runs(status="cancelled")[0]["run_id"] == run_id
    # and a second cancel is a Conflict (the run already ended)
    with pytest.raises(Conflict):
        c.workflows.cancel(run_id, reason="again")


def record_status(c: Container, run_id: str) -> None:
    """What EventBridge + the execution-status Lambda + the projector do on AWS: the execution's
    status into its run stream, the stream into the ``runs`` view (tests/integration/test_runs_aws.py
    covers that path with the real Lambdas and stream records)."""
    from runtime.workflows.runs_view import RUNS

    _, desc = c.workflows.describe(run_id)
    ms = {k: int(desc[k].timestamp() * 1000) for k in ("startDate", "stopDate") if desc.get(k)}
    detail = {**{k: desc.get(k) for k in ("executionArn", "stateMachineArn", "name", "status", "input")}, **ms}
    c.run_status.record({"detail-type": "Step Functions Execution Status Change", "source": "aws.states",
                         "detail": detail})  # fmt: skip
    for event in c.store.read(f"workflowrun-{run_id}"):
        apply_event(c.views, [RUNS], event)  # type: ignore[arg-type]


def test_project_runs_authorize_by_the_project_in_the_run_input(aws: dict[str, Any]) -> None:
    create_machine(aws["sfn"], "compile")  # jobs complete at once; the step Lambdas echo
    c = container()
    project = c.library.create_project(ALICE, "demo")["project_id"]
    from runtime import projections

    projections.load()
    for event in c.store.read(f"project-{project}"):  # (the projector keeps the memberships view)
        apply_event(c.views, projections.select(projections.all(), ["memberships"]), event)  # type: ignore[arg-type]
    mine = c.workflows.start("compile", compile_input(project), run_id="run-mine")
    system = c.workflows.start("compile", compile_input(None), run_id="run-system")
    for run_id in (mine, system):
        wait_for(lambda: c.workflows.state(run_id).finished)  # noqa: B023
        record_status(c, run_id)
    shown = c.project_runs.show(ALICE, mine)
    assert shown["project_id"] == project and shown["run_id"] == mine and shown["steps"]
    listed = c.project_runs.list(ALICE)
    assert [r["run_id"] for r in listed] == [mine] and listed[0]["project_id"] == project
    assert "output" not in listed[0] and "steps" not in listed[0]
    assert c.project_runs.list(ALICE, project_id=project, workflow="compile")[0]["run_id"] == mine
    assert c.project_runs.list(Caller(user_id="mallory")) == []
    with pytest.raises(Forbidden):
        c.project_runs.show(ALICE, system)  # a system run is nobody's
    with pytest.raises((Forbidden, NotFound)):
        c.project_runs.show(Caller(user_id="mallory"), mine)


def test_history_of_a_retried_lambda_step_and_an_aborted_run() -> None:
    # Given a history (as AWS writes it) where Validate's Lambda fails once, is retried and
    # succeeds, then the run is stopped while Verify runs
    from datetime import timedelta

    from runtime.adapters.stepfunctions.history import summarize

    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    events: list[dict[str, Any]] = []

    def add(type_: str, **details: Any) -> None:
        events.append({"type": type_, "timestamp": t0 + timedelta(seconds=len(events)), **details})

    add("ExecutionStarted")
    add("TaskStateEntered", stateEnteredEventDetails={"name": "Validate", "input": "{}"})
    add("LambdaFunctionScheduled")
    add("LambdaFunctionFailed", lambdaFunctionFailedEventDetails={"error": "Lambda.ServiceException", "cause": "x"})
    add("LambdaFunctionScheduled")
    add("LambdaFunctionSucceeded")
    add("TaskStateExited", stateExitedEventDetails={"name": "Validate"})
    add("TaskStateEntered", stateEnteredEventDetails={"name": "Verify", "input": "{}"})
    add("LambdaFunctionScheduled")
    add("ExecutionAborted", executionAbortedEventDetails={"error": "TLM.Cancelled", "cause": "user asked"})
    describe = {"name": "r1", "status": "ABORTED", "startDate": t0, "stopDate": events[-1]["timestamp"]}
    # When it is summarized
    run = summarize(describe, events, workflow="compile", step_names=[s.name for s in d.compile_workflow().states])
    # Then the failed attempt, its retry and the cancelled step are there, with their timing
    assert [(s["step"], s["attempt"], s["status"]) for s in run["steps"]] == [
        ("Validate", 1, "failed"),
        ("Validate", 2, "succeeded"),
        ("Verify", 1, "cancelled"),
    ]
    assert run["steps"][0]["error"] == {"error": "Lambda.ServiceException", "cause": "x"}
    assert run["steps"][1]["duration_s"] == 2.0 and run["steps"][2]["ended_at"] == describe["stopDate"]
    assert run["status"] == "cancelled" and run["error"] == "TLM.Cancelled" and run["cause"] == "user asked"
    assert run["duration_s"] == 9.0 and run["current_step"] is None
