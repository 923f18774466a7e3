"""One scenario suite (``tests/workflow_scenarios.py``), two engines, identical outcomes: the local
runner (real SQLite, an in-memory scripted JobRunner) and moto's Step Functions engine executing
the rendered ASL (moto's SageMaker with ``describe_training_job`` scripted the same way).

moto 5.2.5 cannot run two constructs, which run locally only and have their rendered shape
checked (and accepted by moto's ``create_state_machine``):

- ``ToleratedFailurePercentage``: moto parses it (DISTRIBUTED mode) but never applies it;
- ``states:startExecution.sync:2`` (child workflow): moto passes the task's PascalCase parameters
  to botocore unconverted, which fails with ``KeyError: 'StateMachineArn'`` (States.Runtime).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID

from runtime.adapters.local_workflows import LocalWorkflowRunner
from runtime.adapters.sqlite.db import Database
from runtime.adapters.sqlite.event_store import SqliteEventStore
from runtime.workflows import asl
from tests.workflow_scenarios import (
    CHILD,
    MAP_TOLERATED,
    PARENT,
    SCENARIOS,
    Outcomes,
    Scenario,
    ScriptedJobs,
    normalize,
    script_sagemaker,
)

pytestmark = pytest.mark.integration

REGION = "us-east-1"
SFN_ROLE = f"arn:aws:iam::{DEFAULT_ACCOUNT_ID}:role/tlm-sfn"
SUBS = {
    "SageMakerRoleArn": f"arn:aws:iam::{DEFAULT_ACCOUNT_ID}:role/tlm-sagemaker",
    "TrainingImage": f"{DEFAULT_ACCOUNT_ID}.dkr.ecr.{REGION}.amazonaws.com/tlm-jobs:latest",
    "ArtifactsUri": "s3://tlm-artifacts/jobs",
}
SFN_STATUS = {"SUCCEEDED": "succeeded", "FAILED": "failed", "ABORTED": "cancelled", "TIMED_OUT": "failed"}


def _until(check: Any, what: str, timeout: float = 30) -> None:
    deadline = time.time() + timeout
    while not check():
        assert time.time() < deadline, what
        time.sleep(0.02)


def run_local(sc: Scenario, tmp: Path) -> tuple[dict[str, Any], SqliteEventStore, str]:
    store = SqliteEventStore(Database(tmp / f"{sc.name}.db"))
    outcomes = Outcomes()
    jobs = ScriptedJobs(outcomes)
    workflows = {w.name: w for w in (sc.workflow, *sc.children)}
    runner = LocalWorkflowRunner(store, jobs, workflows=workflows, poll_interval_s=0.01, time_scale=0)
    run_id = runner.start(sc.workflow.name, sc.input)
    if sc.cancel:
        _until(lambda: jobs.states, "no job started")
        runner.cancel(run_id, reason="scenario")
    final = runner.wait(run_id, timeout=30)
    output = normalize(final.output) if final.status == "succeeded" else None
    return {"status": final.status, "output": output, "jobs": len(outcomes.launched)}, store, run_id


@pytest.fixture
def sfn(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    outcomes = script_sagemaker(monkeypatch)
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        yield {"client": boto3.client("stepfunctions", region_name=REGION), "outcomes": outcomes}


def create_machines(client: Any, sc: Scenario, poll_seconds: int) -> str:
    subs = dict(SUBS)
    for child in sc.children:  # children first: the parent's definition names their ARNs
        body = asl.render(child, substitutions=subs, poll_seconds=poll_seconds)
        arn = client.create_state_machine(name=child.name, definition=json.dumps(body), roleArn=SFN_ROLE)
        subs[asl.child_placeholder(child.name).strip("${}")] = arn["stateMachineArn"]
    body = asl.render(sc.workflow, substitutions=subs, poll_seconds=poll_seconds)
    assert asl.placeholders(body) == set()
    return client.create_state_machine(name=sc.workflow.name, definition=json.dumps(body), roleArn=SFN_ROLE)[
        "stateMachineArn"
    ]


def run_moto(sc: Scenario, env: dict[str, Any]) -> dict[str, Any]:
    client = env["client"]
    # a 2 s poll wait for the cancel: the stop lands in the Wait of the job loop (see test_asl_moto)
    arn = create_machines(client, sc, poll_seconds=2 if sc.cancel else 0)
    ex = client.start_execution(stateMachineArn=arn, name=uuid.uuid4().hex, input=json.dumps(sc.input))["executionArn"]
    if sc.cancel:
        _until(lambda: env["outcomes"].launched, "no job described")
        client.stop_execution(executionArn=ex, error="TLM.Cancelled", cause="scenario")
    _until(lambda: client.describe_execution(executionArn=ex)["status"] != "RUNNING", "execution did not end", 60)
    desc = client.describe_execution(executionArn=ex)
    status = SFN_STATUS[desc["status"]]
    output = normalize(json.loads(desc["output"])) if status == "succeeded" else None
    return {"status": status, "output": output, "jobs": len(env["outcomes"].launched), "desc": desc}


def expected(sc: Scenario) -> dict[str, Any]:
    return {"status": sc.status, "output": sc.output, "jobs": sc.jobs}


@pytest.mark.parametrize("sc", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_scenario_on_the_local_runner(sc: Scenario, tmp_path: Path) -> None:
    outcome, store, run_id = run_local(sc, tmp_path)
    assert outcome == expected(sc)
    types = [e.type for e in store.read(f"workflowrun-{run_id}")]
    if sc.workflow.name.startswith("scn-map"):
        ends = [t for t in types if t in ("workflowrun.iteration_succeeded", "workflowrun.iteration_failed")]
        assert len(ends) == len(sc.input["items"])  # one event per item
    if sc.children:
        child_id = next(
            e.data["child_run_id"] for e in store.read(f"workflowrun-{run_id}") if e.type == "workflowrun.child_started"
        )
        started = store.read(f"workflowrun-{child_id}")[0]
        assert started.data["parent_run_id"] == run_id and started.data["workflow"] == "scn-child"


@pytest.mark.parametrize("sc", [s for s in SCENARIOS if s.moto], ids=[s.name for s in SCENARIOS if s.moto])
def test_scenario_on_moto_step_functions_matches_the_local_runner(
    sc: Scenario, sfn: dict[str, Any], tmp_path: Path
) -> None:
    local, _, _ = run_local(sc, tmp_path)
    on_moto = run_moto(sc, sfn)
    on_moto.pop("desc")
    assert on_moto == local == expected(sc)


def test_tolerated_failure_map_renders_a_distributed_map_moto_accepts(sfn: dict[str, Any]) -> None:
    body = asl.render(MAP_TOLERATED, substitutions=SUBS)
    each = body["States"]["Each"]
    assert each["ToleratedFailurePercentage"] == 34 and each["MaxConcurrency"] == 3
    assert each["ItemProcessor"]["ProcessorConfig"] == {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}
    assert "Catch" not in each and each["ItemProcessor"]["StartAt"] == "Work"
    arn = sfn["client"].create_state_machine(name="tolerated", definition=json.dumps(body), roleArn=SFN_ROLE)
    assert sfn["client"].describe_state_machine(stateMachineArn=arn["stateMachineArn"])["status"] == "ACTIVE"


def test_child_workflow_renders_start_execution_sync2_moto_accepts(sfn: dict[str, Any]) -> None:
    child_arn = f"arn:aws:states:{REGION}:{DEFAULT_ACCOUNT_ID}:stateMachine:{CHILD.name}"
    body = asl.render(PARENT, substitutions={**SUBS, "StateMachine_scn_child": child_arn})
    task = body["States"]["Child"]
    assert task["Resource"] == "arn:aws:states:::states:startExecution.sync:2"
    assert task["Parameters"] == {"StateMachineArn": child_arn, "Input": {"id.$": "$.id", "outcomes.$": "$.outcomes",
                                  "AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID.$": "$$.Execution.Id"}}  # fmt: skip
    assert task["ResultSelector"] == {"output.$": "$.Output"} and task["ResultPath"] == "$.child"
    assert asl.render(PARENT)["States"]["Child"]["Parameters"]["StateMachineArn"] == "${StateMachine_scn_child}"
    arn = sfn["client"].create_state_machine(name="parent", definition=json.dumps(body), roleArn=SFN_ROLE)
    assert sfn["client"].describe_state_machine(stateMachineArn=arn["stateMachineArn"])["status"] == "ACTIVE"
