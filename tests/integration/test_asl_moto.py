"""The rendered state machines, executed by moto's Step Functions engine.

What runs for real in moto 5.2.5 (read from moto/stepfunctions/parser): Pass, Choice, Wait,
Parallel, Map, Fail/Succeed, intrinsic functions, Retry/Catch; ``dynamodb:*`` and ``aws-sdk:*``
tasks call moto's services; ``sagemaker:createTrainingJob`` (request-response) is an
"unsupported optimised integration" that moto *forwards* to its SageMaker backend, so the
production create + describe-poll loop executes as rendered. ``.sync`` is accepted by
``create_state_machine`` but cannot execute (only waitForTaskToken is supported for sagemaker),
so the ``sync_jobs=True`` rendering is checked for acceptance only. Lambda tasks use moto's
docker-less Lambda, which returns queued results (or echoes the payload).

moto's fake SageMaker completes every job at once; the tests script its outcome per job
(``describe_training_job`` patched: statuses per describe call) to drive the poll loop, the
retry and the catch. The state machine itself is the production rendering, unchanged.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.awslambda_simple.models import lambda_simple_backends
from moto.core import DEFAULT_ACCOUNT_ID

from runtime.adapters.dynamodb import keys
from runtime.workflows import asl
from runtime.workflows import definitions as d
from tests.aws_job_slots import slot_lambdas
from tests.aws_tables import ScriptedTrainingJobs, create_events_table

pytestmark = pytest.mark.integration

REGION = "us-east-1"
TABLE = "tlm-events"
SFN_ROLE = f"arn:aws:iam::{DEFAULT_ACCOUNT_ID}:role/tlm-sfn"
SUBS = {
    **d.DEFAULT_SUBSTITUTIONS,
    "EventsTable": TABLE,
    "SageMakerRoleArn": f"arn:aws:iam::{DEFAULT_ACCOUNT_ID}:role/tlm-sagemaker",
    "TrainingImage": f"{DEFAULT_ACCOUNT_ID}.dkr.ecr.{REGION}.amazonaws.com/tlm-jobs:latest",
    "ArtifactsUri": "s3://tlm-artifacts/jobs",
    "CheckpointsUri": "s3://tlm-artifacts/checkpoints",
    **{f"Step_{fn}": f"arn:aws:lambda:{REGION}:{DEFAULT_ACCOUNT_ID}:function:tlm-step-{fn}" for fn in d.STEP_FUNCTIONS},
}
COMPILE_INPUT = {
    "compile_id": "c1",
    "model_version_id": "mv1",
    "model_uri": "s3://tlm-blobs/m/mv1",
    "target": "onnx-int8",
    "recipe": {"opset": 18},
    "output_uri": "s3://tlm-artifacts/compile/c1",
}
TRAIN_INPUT = {
    "training_id": "t1",
    "dataset": {"id": "ds1"},
    "config": {"family": "bert", "preset": "tiny"},
    "output_uri": "s3://tlm-artifacts/train/t1",
}


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    script = ScriptedTrainingJobs().install(monkeypatch)
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}):
        ddb = boto3.client("dynamodb", region_name=REGION)
        create_events_table(ddb, TABLE, stream=False)
        slots = slot_lambdas(monkeypatch, TABLE)  # the job steps' admit / release Lambdas run for real
        yield {
            "slots": slots,
            "sfn": boto3.client("stepfunctions", region_name=REGION),
            "ddb": ddb,
            "sm": boto3.client("sagemaker", region_name=REGION),
            "script": script,
        }


def lambda_results(*results: Any) -> None:
    queue = lambda_simple_backends[DEFAULT_ACCOUNT_ID][REGION].lambda_simple_results_queue
    queue.extend(json.dumps(r) for r in results)


def machine(sfn: Any, name: str, poll_seconds: int = 0, **build: Any) -> str:
    defn = d.WORKFLOWS[name](retry_interval_s=1, **build)
    body = asl.render(defn, substitutions=SUBS, poll_seconds=poll_seconds)
    assert asl.placeholders(body) == set()
    return sfn.create_state_machine(name=name, definition=json.dumps(body), roleArn=SFN_ROLE)["stateMachineArn"]


def run(sfn: Any, arn: str, payload: dict[str, Any], timeout: float = 60) -> dict[str, Any]:
    # name given: moto leaves an unnamed execution's $$.Execution.Name null (AWS makes a uuid)
    ex = sfn.start_execution(stateMachineArn=arn, name=uuid.uuid4().hex, input=json.dumps(payload))["executionArn"]
    deadline = time.time() + timeout
    while (desc := sfn.describe_execution(executionArn=ex))["status"] == "RUNNING":
        assert time.time() < deadline, "execution did not finish"
        time.sleep(0.05)
    desc["history"] = sfn.get_execution_history(executionArn=ex, maxResults=1000)["events"]
    return desc


def jobs(sm: Any) -> list[str]:
    return sorted(j["TrainingJobName"] for j in sm.list_training_jobs()["TrainingJobSummaries"])


@pytest.mark.parametrize("name", sorted(d.WORKFLOWS))
@pytest.mark.parametrize("sync_jobs", [False, True])
def test_every_rendering_is_accepted(aws: dict[str, Any], name: str, sync_jobs: bool) -> None:
    body = asl.render(d.WORKFLOWS[name](), sync_jobs=sync_jobs, substitutions=SUBS)
    arn = aws["sfn"].create_state_machine(name=f"{name}-{sync_jobs}", definition=json.dumps(body), roleArn=SFN_ROLE)[
        "stateMachineArn"
    ]
    assert aws["sfn"].describe_state_machine(stateMachineArn=arn)["status"] == "ACTIVE"
    resources = json.dumps(body)
    # the release workflow has no jobs; the study starts its jobs from Lambda steps
    if "sagemaker:createTrainingJob" in resources:
        assert ("createTrainingJob.sync" in resources) is sync_jobs


def test_compile_happy_path_polls_the_job(aws: dict[str, Any]) -> None:
    # Given a compile job that is still running at the first describe
    aws["script"].plans["tlm-compile"] = [["InProgress", "InProgress", "Completed"]]
    lambda_results({"ok": True}, {"max_abs_diff": 1e-4}, {"recorded": True})
    # When the compile state machine runs
    out = run(aws["sfn"], machine(aws["sfn"], "compile"), COMPILE_INPUT)
    # Then it succeeds through the poll loop, with both jobs' results in its output
    assert out["status"] == "SUCCEEDED", out
    doc = json.loads(out["output"])
    assert doc["compile"]["status"] == "Completed" and doc["compile"]["name"].startswith("tlm-compile-")
    assert doc["package"]["model_artifacts"].startswith("s3://tlm-artifacts/compile/c1/")
    assert doc["verification"] == {"max_abs_diff": 1e-4} and doc["recorded"] == {"recorded": True}
    waits = [e for e in out["history"] if e["type"] == "WaitStateEntered"]
    assert len(waits) == 4  # 3 describes of the compile job, 1 of the package job
    requests = [
        json.loads(e["taskScheduledEventDetails"]["parameters"])
        for e in out["history"]
        if e["type"] == "TaskScheduled" and e["taskScheduledEventDetails"]["resource"] == "createTrainingJob"
    ]
    assert [r["Environment"]["TLM_JOB_PROGRAM"] for r in requests] == ["compile", "package"]
    package = aws["sm"].describe_training_job(TrainingJobName=doc["package"]["name"])
    assert package["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"] == doc["compile"]["model_artifacts"]


def test_train_happy_path_uses_the_gpu_instance_type(aws: dict[str, Any]) -> None:
    lambda_results(
        {"train_uri": "s3://d/train", "validation_uri": "s3://d/val", "test_uri": "s3://d/test",
         "init_uri": "s3://d/", "init_model": ""},  # fmt: skip
        {"registered": True},
    )
    out = run(aws["sfn"], machine(aws["sfn"], "train"), TRAIN_INPUT)
    assert out["status"] == "SUCCEEDED", out
    doc = json.loads(out["output"])
    train = aws["sm"].describe_training_job(TrainingJobName=doc["train"]["name"])
    assert train["ResourceConfig"]["InstanceType"] == SUBS["TrainingInstanceType"]
    assert json.loads(train["HyperParameters"]["config"]) == TRAIN_INPUT["config"]
    assert {c["ChannelName"] for c in train["InputDataConfig"]} == {"train", "validation", "init"}


def test_job_failing_once_is_retried_with_a_new_job(aws: dict[str, Any]) -> None:
    aws["script"].plans["tlm-compile"] = [["Failed"], ["Completed"]]
    lambda_results({"ok": True}, {"max_abs_diff": 0.0}, {"recorded": True})
    out = run(aws["sfn"], machine(aws["sfn"], "compile"), COMPILE_INPUT)
    assert out["status"] == "SUCCEEDED", out
    assert len([j for j in jobs(aws["sm"]) if j.startswith("tlm-compile-")]) == 2
    entered = [e["stateEnteredEventDetails"]["name"] for e in out["history"] if e["type"] == "FailStateEntered"]
    assert entered == ["Compile: failed"]  # the first job's failure, then the retry succeeded


def test_job_failing_for_good_is_caught_and_recorded_as_an_event(aws: dict[str, Any]) -> None:
    # Given a compile job that fails on every attempt (1 try + 1 retry)
    aws["script"].plans["tlm-compile"] = [["Failed"], ["Failed"]]
    lambda_results({"ok": True})
    # When the workflow runs
    out = run(aws["sfn"], machine(aws["sfn"], "compile"), COMPILE_INPUT)
    # Then it fails with the workflow's error, after recording the job failure as an event item
    assert out["status"] == "FAILED" and out["error"] == d.WORKFLOW_FAILED
    execution = out["executionArn"].rsplit(":", 1)[1]
    items = aws["ddb"].query(
        TableName=TABLE,
        KeyConditionExpression="#s = :s",
        ExpressionAttributeNames={"#s": keys.EVENTS_PK},
        ExpressionAttributeValues={":s": {"S": f"workflowrun-{execution}"}},
    )["Items"]
    assert len(items) == 1
    item = items[0]
    assert item[keys.EVENTS_SK] == {"N": "1"} and item[keys.KIND] == {"S": keys.KIND_EVENT}
    assert item["type"] == {"S": "workflowrun.failure_recorded"}
    data = json.loads(item["data"]["S"])
    assert data == {
        "workflow": "compile",
        "error": "TLM.JobFailed",
        "cause": "scripted failure: CUDA out of memory",
    }
    meta = json.loads(item["metadata"]["S"])
    assert meta["actor"] == "stepfunctions" and meta["correlation_id"] == execution
    from domain.events import EventMetadata, decode

    assert decode(item["type"]["S"], data).error == "TLM.JobFailed"
    EventMetadata.model_validate(meta)


def test_stop_execution_cancels_a_run(aws: dict[str, Any]) -> None:
    aws["script"].plans["tlm-compile"] = [["InProgress"]]  # never finishes
    lambda_results({"ok": True})
    # a 5 s poll wait: the stop lands in the Wait inside the job's Parallel. (Stopping moto's
    # engine in the middle of a task call inside a Parallel can surface as FAILED, a moto race.)
    arn = machine(aws["sfn"], "compile", poll_seconds=5)
    ex = aws["sfn"].start_execution(stateMachineArn=arn, name="to-cancel", input=json.dumps(COMPILE_INPUT))[
        "executionArn"
    ]
    deadline = time.time() + 30
    while not jobs(aws["sm"]):
        assert time.time() < deadline
        time.sleep(0.05)
    aws["sfn"].stop_execution(executionArn=ex, error="TLM.Cancelled", cause="user asked")
    while (desc := aws["sfn"].describe_execution(executionArn=ex))["status"] == "RUNNING":
        assert time.time() < deadline
        time.sleep(0.05)
    assert desc["status"] == "ABORTED"
    history = aws["sfn"].get_execution_history(executionArn=ex)["events"]
    assert history[-1]["type"] == "ExecutionAborted"
