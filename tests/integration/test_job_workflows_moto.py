"""The one-job workflows (architecture test, demo import), rendered to ASL and executed by moto's
Step Functions engine: the job gets the request's name, its CreateTrainingJob request is valid by
botocore's model (no empty InputDataConfig), the import's ingest step receives the job's output,
and a failed job is caught into the failure tail and recorded as an event."""

from __future__ import annotations

import json
from typing import Any

import botocore.session
import pytest
from botocore.validate import ParamValidator

from domain.errors import Invalid
from domain.workflows import model as m
from runtime.workflows import asl
from runtime.workflows import definitions as d
from runtime.workflows.job_workflows import ARCH_TEST_KEYS, IMPORT_KEYS
from tests.integration import test_asl_moto as base
from tests.integration.test_asl_moto import SFN_ROLE, SUBS, TABLE, lambda_results, run

pytestmark = [pytest.mark.integration, pytest.mark.slow]  # moto SFN + the botocore SageMaker model: ~20 s cold
aws = base.aws  # the moto fixture (Step Functions executing, scripted SageMaker job outcomes)

ARCH_INPUT = {
    "job_name": "archtest-0123456789ab-0badcafe",
    "project_id": "p1",
    "config_id": "0123456789ab",
    "hyperparameters": {k: None for k in ARCH_TEST_KEYS}
    | {"parent": {"family": "bert"}, "child": {"family": "bert"}, "layer_map": {}, "batch_size": 2, "seq_len": 16},
    "output_uri": "s3://tlm-artifacts/jobs/output",
}
IMPORT_INPUT = {
    "job_name": "dsimport-p1-0badcafe",
    "project_id": "p1",
    "user_id": "alice",
    "hyperparameters": {k: None for k in IMPORT_KEYS} | {"seed": 13, "name": "snownlp", "default_name": True},
    "output_uri": "s3://tlm-artifacts/jobs/output",
}


def machine(sfn: Any, name: str) -> str:
    body = asl.render(d.WORKFLOWS[name](), substitutions=SUBS, poll_seconds=0)
    assert asl.placeholders(body) == set()
    return sfn.create_state_machine(name=name, definition=json.dumps(body), roleArn=SFN_ROLE)["stateMachineArn"]


def create_requests(out: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        json.loads(e["taskScheduledEventDetails"]["parameters"])
        for e in out["history"]
        if e["type"] == "TaskScheduled" and e["taskScheduledEventDetails"]["resource"] == "createTrainingJob"
    ]


def botocore_errors(request: dict[str, Any]) -> str:
    model = botocore.session.get_session().get_service_model("sagemaker")
    return ParamValidator().validate(request, model.operation_model("CreateTrainingJob").input_shape).generate_report()


def test_the_arch_test_runs_its_job_under_the_requested_name(aws: dict[str, Any]) -> None:
    # Given the arch-test machine; When a request's run executes
    out = run(aws["sfn"], machine(aws["sfn"], "arch-test"), ARCH_INPUT)
    # Then its one job ran under the request's name, with a request SageMaker accepts
    assert out["status"] == "SUCCEEDED", out
    (request,) = create_requests(out)
    assert request["TrainingJobName"] == ARCH_INPUT["job_name"]
    assert "InputDataConfig" not in request  # no channels: absent, never an empty list
    assert botocore_errors(request) == ""
    assert request["Environment"]["TLM_JOB_PROGRAM"] == "arch_test"
    assert request["HyperParameters"]["job_request"] == json.dumps(ARCH_INPUT["job_name"])
    assert json.loads(request["HyperParameters"]["seq_len"]) == 16 and request["HyperParameters"]["text"] == "null"
    job = aws["sm"].describe_training_job(TrainingJobName=ARCH_INPUT["job_name"])
    assert job["OutputDataConfig"]["S3OutputPath"] == ARCH_INPUT["output_uri"]
    assert json.loads(out["output"])["job"]["name"] == ARCH_INPUT["job_name"]


def test_the_demo_import_hands_the_jobs_output_to_the_ingest_step(aws: dict[str, Any]) -> None:
    lambda_results({"dataset_id": "ds1"})
    out = run(aws["sfn"], machine(aws["sfn"], "demo-import"), IMPORT_INPUT)
    assert out["status"] == "SUCCEEDED", out
    (request,) = create_requests(out)
    assert request["TrainingJobName"] == IMPORT_INPUT["job_name"] and botocore_errors(request) == ""
    assert request["ResourceConfig"]["InstanceType"] == SUBS["ImportInstanceType"]
    (payload,) = (
        json.loads(e["lambdaFunctionScheduledEventDetails"]["input"])
        for e in out["history"]
        if e["type"] == "LambdaFunctionScheduled"
        and e["lambdaFunctionScheduledEventDetails"]["resource"] == SUBS["Step_ingest_demo_dataset"]
    )
    assert payload["job"]["name"] == IMPORT_INPUT["job_name"]
    assert payload["job"]["model_artifacts"].startswith(f"{IMPORT_INPUT['output_uri']}/{IMPORT_INPUT['job_name']}/")
    assert payload["hyperparameters"] == IMPORT_INPUT["hyperparameters"] and payload["user_id"] == "alice"
    assert json.loads(out["output"])["dataset"] == {"dataset_id": "ds1"}


def test_a_failed_import_job_is_not_retried_and_is_recorded(aws: dict[str, Any]) -> None:
    aws["script"].assigned[IMPORT_INPUT["job_name"]] = ["InProgress", "Failed"]
    out = run(aws["sfn"], machine(aws["sfn"], "demo-import"), IMPORT_INPUT)
    assert out["status"] == "FAILED" and out["error"] == d.WORKFLOW_FAILED
    assert len(create_requests(out)) == 1  # a fixed name is used once: no retry
    execution = out["executionArn"].rsplit(":", 1)[1]
    items = aws["ddb"].query(
        TableName=TABLE,
        KeyConditionExpression="stream_id = :s",
        ExpressionAttributeValues={":s": {"S": f"workflowrun-{execution}"}},
    )["Items"]
    assert [json.loads(i["data"]["S"])["error"] for i in items] == ["TLM.JobFailed"]


def test_a_job_with_a_fixed_name_cannot_retry() -> None:
    job = m.JobTemplate(program="arch_test", name_prefix="archtest", name="$.job_name")
    with pytest.raises(Invalid) as e:
        d.job_step("Test", job, result_path="$.job", retries=1)
    assert e.value.field == "retry"
