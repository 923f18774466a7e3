"""Job slots on Step Functions (moto executes the rendered arch-test machine; the admit / release
Lambdas run for real on the DynamoDB events table, ``tests.aws_job_slots``): a capped user's third
job waits in the queue with its place in the execution's history, and runs once a job of theirs
ends; an aborted execution's slot is freed by the ``functions/events`` Lambda, once."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID

from functions.events import handler as status_lambda
from runtime.adapters.stepfunctions.names import state_machine_name
from runtime.bootstrap import build_aws, set_container
from runtime.settings import Settings
from runtime.workflows import asl
from runtime.workflows import definitions as d
from runtime.workflows.job_workflows import ARCH_TEST_KEYS
from tests.aws_job_slots import slot_lambdas
from tests.aws_tables import ScriptedTrainingJobs, create_events_table, create_idempotency_table, create_views_table
from tests.integration.test_asl_moto import SFN_ROLE, SUBS
from tests.integration.test_job_slots import request
from tests.integration.test_runs_aws import FakeContext

pytestmark = [pytest.mark.integration, pytest.mark.slow]  # three executions polling on moto: ~10 s
REGION, PREFIX = "us-east-1", "TlmSlots"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    script = ScriptedTrainingJobs().install(monkeypatch)
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}):
        ddb = boto3.client("dynamodb", region_name=REGION)
        create_events_table(ddb, "tlm-events", stream=False)
        create_views_table(ddb, "tlm-views")
        create_idempotency_table(ddb, "tlm-idempotency")
        settings = Settings(backend="aws", region=REGION, state_machine_prefix=PREFIX, account_id=DEFAULT_ACCOUNT_ID)
        c = build_aws(settings)
        c.limits.defaults = c.limits.defaults.with_overrides({"max_jobs_per_user": 2})
        set_container(c)
        slot_lambdas(monkeypatch, "tlm-events", slots=c.job_slots)  # one queue fold: the Lambdas' and the test's
        sfn = boto3.client("stepfunctions", region_name=REGION)
        body = asl.render(d.WORKFLOWS["arch-test"](poll_seconds=1), substitutions=SUBS, poll_seconds=1)
        arn = sfn.create_state_machine(
            name=state_machine_name(PREFIX, "arch-test"), definition=json.dumps(body), roleArn=SFN_ROLE
        )["stateMachineArn"]
        try:
            yield {"c": c, "sfn": sfn, "sm": boto3.client("sagemaker", region_name=REGION), "arn": arn,
                   "script": script}  # fmt: skip
        finally:
            for name in list(script.assigned):  # let every execution end
                script.assigned[name] = ["Completed"]
            set_container(None)


def start(aws: dict[str, Any], name: str) -> str:
    """An architecture test asked for by alice: its request (the owner the admit step reads), then
    its run, whose id is the job's name; the job stays InProgress until the test ends it."""
    request(aws["c"].store, name)
    aws["script"].assigned[name] = ["InProgress"]
    doc = {"job_name": name, "project_id": "p1", "config_id": "0123456789ab",
           "hyperparameters": dict.fromkeys(ARCH_TEST_KEYS), "output_uri": "s3://out/jobs"}  # fmt: skip
    started = aws["sfn"].start_execution(stateMachineArn=aws["arn"], name=name, input=json.dumps(doc))
    return str(started["executionArn"])


def until(check: Callable[[], Any], what: str, timeout: float = 20) -> Any:
    deadline = time.monotonic() + timeout
    while not (got := check()):
        assert time.monotonic() < deadline, what
        time.sleep(0.1)
    return got


def job_exists(aws: dict[str, Any], name: str) -> bool:
    return any(j["TrainingJobName"] == name for j in aws["sm"].list_training_jobs()["TrainingJobSummaries"])


def admit_answers(aws: dict[str, Any], execution: str) -> list[dict[str, Any]]:
    history = aws["sfn"].get_execution_history(executionArn=execution, maxResults=1000)["events"]
    out = [json.loads(e["lambdaFunctionSucceededEventDetails"]["output"])
           for e in history if e["type"] == "LambdaFunctionSucceeded"]  # fmt: skip
    return [o for o in out if "admitted" in o]


def status(aws: dict[str, Any], execution: str) -> str:
    return str(aws["sfn"].describe_execution(executionArn=execution)["status"])


def test_a_capped_users_third_job_waits_in_the_queue_then_runs_when_one_ends(aws: dict[str, Any]) -> None:
    # Given alice (2 jobs at once) with two architecture tests running
    a, b = start(aws, "archtest-slot-a"), start(aws, "archtest-slot-b")
    until(lambda: job_exists(aws, "archtest-slot-a") and job_exists(aws, "archtest-slot-b"), "both jobs created")
    # When she asks for a third
    c = start(aws, "archtest-slot-c")
    # Then it waits, first in the queue, its place in the execution's history, and no job is created
    waiting = until(lambda: [x for x in admit_answers(aws, c) if x["admitted"] is False], "c answered queued")
    assert waiting[0] == {"slot": "archtest-slot-c", "admitted": False, "position": 1}
    assert aws["c"].job_slots.position_of_run("archtest-slot-c") == 1
    time.sleep(1.5)  # another admit round (Wait 1 s): still queued
    assert not job_exists(aws, "archtest-slot-c") and status(aws, c) == "RUNNING"
    # When one of her jobs ends
    aws["script"].assigned["archtest-slot-a"] = ["Completed"]
    # Then its execution releases the slot and the third job runs
    until(lambda: status(aws, a) == "SUCCEEDED", "a ended")
    until(lambda: job_exists(aws, "archtest-slot-c"), "c's job created once a's slot was released")
    assert admit_answers(aws, c)[-1]["admitted"] is True
    for name in ("archtest-slot-b", "archtest-slot-c"):
        aws["script"].assigned[name] = ["Completed"]
    until(lambda: status(aws, b) == status(aws, c) == "SUCCEEDED", "b and c ended")
    state = aws["c"].job_slots._refresh()
    assert not state.running and not state.waiting  # every slot released


def test_an_aborted_executions_slot_is_released_by_the_status_change_lambda(aws: dict[str, Any]) -> None:
    # Given an execution that holds a slot (its job is running) and one of alice's runs waiting behind two
    x, y = start(aws, "archtest-slot-x"), start(aws, "archtest-slot-y")
    until(lambda: job_exists(aws, "archtest-slot-x") and job_exists(aws, "archtest-slot-y"), "jobs created")
    # When it is stopped (ABORTED: no state of the machine runs any more, its release state neither)
    aws["sfn"].stop_execution(executionArn=x, error="TLM.Cancelled", cause="cancelled by alice")
    until(lambda: status(aws, x) == "ABORTED", "x aborted")
    slots = aws["c"].job_slots
    assert "archtest-slot-x" in slots._refresh().running
    desc = aws["sfn"].describe_execution(executionArn=x)
    event = {
        "version": "0", "id": "evt-x-aborted", "detail-type": "Step Functions Execution Status Change",
        "source": "aws.states", "account": DEFAULT_ACCOUNT_ID, "time": "2026-01-01T00:00:00Z", "region": REGION,
        "resources": [x],
        "detail": {"executionArn": x, "stateMachineArn": aws["arn"], "name": desc["name"], "status": "ABORTED",
                   "startDate": int(desc["startDate"].timestamp() * 1000),
                   "stopDate": int(desc["startDate"].timestamp() * 1000) + 5000, "input": desc["input"],
                   "output": None, "error": "TLM.Cancelled", "cause": "cancelled by alice"},
    }  # fmt: skip
    # Then the EventBridge status change frees it, once (a redelivery frees nothing more)
    assert status_lambda.handler(event, FakeContext()) == {"result": "recorded", "job_slots_freed": ["archtest-slot-x"]}
    assert status_lambda.handler(event, FakeContext()) == {"result": "duplicate"}
    state = slots._refresh()
    assert "archtest-slot-x" not in state.running and "archtest-slot-y" in state.running
    assert [r.type for r in aws["c"].store.read("workflowrun-archtest-slot-x")][-1] == "workflowrun.cancelled"
    assert status(aws, y) == "RUNNING"
