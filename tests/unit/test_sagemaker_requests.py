"""SageMaker request dicts: valid against botocore's service model, accepted by moto; status
mapping; CloudWatch logs paging."""

from __future__ import annotations

import re
import time
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.validate import ParamValidator
from moto import mock_aws

from domain.errors import Invalid
from runtime.adapters.sagemaker import (
    SageMakerJobRunner,
    encode_hyperparameters,
    metric_definitions_for,
    processing_job_request,
    training_job_request,
    validate_job_name,
)
from runtime.adapters.sagemaker.status import map_training_state, processing_job_status, training_job_status
from runtime.ports import JobSpec

pytestmark = pytest.mark.unit
ROLE = "arn:aws:iam::123456789012:role/tlm-jobs"
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/tlm-jobs:latest"
MODEL = botocore.session.get_session().get_service_model("sagemaker")


def assert_valid(operation: str, params: dict[str, Any]) -> None:
    """botocore's own validation (required, types, minimums) plus the model's max/pattern."""
    shape = MODEL.operation_model(operation).input_shape
    report = ParamValidator().validate(params, shape)
    assert not report.has_errors(), report.generate_report()
    _limits(params, shape, operation)


def _limits(value: Any, shape: Any, path: str) -> None:
    meta = shape.metadata
    if shape.type_name == "string":
        assert len(value) <= meta.get("max", 10**9), path
        if "pattern" in meta and "\\p" not in meta["pattern"]:  # \p{..} classes: not Python re
            assert re.fullmatch(meta["pattern"], value), f"{path}={value!r} !~ {meta['pattern']}"
    elif shape.type_name == "structure":
        for k, v in value.items():
            _limits(v, shape.members[k], f"{path}.{k}")
    elif shape.type_name == "list":
        assert len(value) <= meta.get("max", 10**9), path
        for i, v in enumerate(value):
            _limits(v, shape.member, f"{path}[{i}]")
    elif shape.type_name == "map":
        assert len(value) <= meta.get("max", 10**9), path
        for k, v in value.items():
            _limits(k, shape.key, f"{path}.key")
            _limits(v, shape.value, f"{path}.{k}")


def train_spec(**kw: Any) -> JobSpec:
    base: dict[str, Any] = dict(
        name="train-bert-tiny-01",
        program="train",
        hyperparameters={"epochs": 3, "lr": 5e-4, "preset": "tiny", "labels": ["neg", "pos"], "bf16": True},
        channels={"train": "s3://tlm-data/datasets/sentiment/train/", "validation": "s3://tlm-data/ds/val/"},
        output_uri="s3://tlm-artifacts/jobs/output",
        instance_type="ml.g5.xlarge",
        max_runtime_s=7200,
        metric_definitions=metric_definitions_for("loss", "val_accuracy"),
        environment={"TLM_TRACE": "1"},
    )
    base.update(kw)
    return JobSpec(**base)


def test_training_request_is_valid_and_has_spot_and_checkpoints():
    spec = train_spec(use_spot=True, max_wait_s=10800, checkpoint_uri="s3://tlm-artifacts/ckpt/run-01")
    req = training_job_request(spec, role_arn=ROLE, image_uri=IMAGE, tags={"project": "p1"})
    assert_valid("CreateTrainingJob", req)
    assert req["EnableManagedSpotTraining"] is True
    assert req["StoppingCondition"] == {"MaxRuntimeInSeconds": 7200, "MaxWaitTimeInSeconds": 10800}
    assert req["CheckpointConfig"] == {
        "S3Uri": "s3://tlm-artifacts/ckpt/run-01",
        "LocalPath": "/opt/ml/checkpoints",
    }
    assert req["AlgorithmSpecification"]["TrainingInputMode"] == "File"
    assert [m["Name"] for m in req["AlgorithmSpecification"]["MetricDefinitions"]] == ["loss", "val_accuracy"]
    assert req["HyperParameters"] == {
        "epochs": "3",
        "lr": "0.0005",
        "preset": "tiny",
        "labels": '["neg", "pos"]',
        "bf16": "true",
    }
    assert [c["ChannelName"] for c in req["InputDataConfig"]] == ["train", "validation"]
    assert req["ResourceConfig"]["InstanceType"] == "ml.g5.xlarge"
    assert req["Tags"] == [{"Key": "project", "Value": "p1"}]


def test_spot_defaults_and_rules():
    req = training_job_request(
        train_spec(use_spot=True), role_arn=ROLE, image_uri=IMAGE, checkpoint_uri="s3://b/checkpoints"
    )
    assert req["StoppingCondition"]["MaxWaitTimeInSeconds"] == 14400
    assert req["CheckpointConfig"]["S3Uri"] == "s3://b/checkpoints/train-bert-tiny-01"
    with pytest.raises(Invalid) as e:
        training_job_request(
            train_spec(use_spot=True, max_wait_s=60),
            role_arn=ROLE,
            image_uri=IMAGE,
            checkpoint_uri="s3://b/c",
        )
    assert e.value.field == "max_wait_s"
    with pytest.raises(Invalid) as e:
        training_job_request(train_spec(use_spot=True), role_arn=ROLE, image_uri=IMAGE)
    assert e.value.field == "checkpoint_uri"
    on_demand = training_job_request(train_spec(), role_arn=ROLE, image_uri=IMAGE)
    assert "EnableManagedSpotTraining" not in on_demand and "CheckpointConfig" not in on_demand


def test_bad_names_channels_and_hyperparameters_are_invalid():
    for bad in ["", "-x", "x-", "a_b", "a" * 64, "名字"]:
        with pytest.raises(Invalid):
            validate_job_name(bad)
    validate_job_name("a--b-" + "c" * 58)
    with pytest.raises(Invalid) as e:
        training_job_request(train_spec(channels={"train": "/local/dir"}), role_arn=ROLE, image_uri=IMAGE)
    assert e.value.field == "channels.train"
    with pytest.raises(Invalid):
        encode_hyperparameters({"vocab": "x" * 3000})


def test_metric_definitions_read_the_jobs_log_lines():
    (d,) = metric_definitions_for("val_accuracy")
    assert re.search(d["Regex"], "metric: val_accuracy=0.8125 step=40").group(1) == "0.8125"
    assert re.search(d["Regex"], "metric: val_accuracy=1e-3 step=1").group(1) == "1e-3"
    assert not re.search(d["Regex"], "metric: accuracy=0.5 step=1")


def test_processing_request_is_valid_and_keeps_the_container_layout():
    spec = JobSpec(
        name="compile-01",
        program="compile",
        hyperparameters={"target": "onnx-int8"},
        channels={"model": "s3://tlm-artifacts/models/m1/"},
        output_uri="s3://tlm-artifacts/jobs",
        instance_type="ml.c6i.xlarge",
    )
    req = processing_job_request(spec, role_arn=ROLE, image_uri=IMAGE)
    assert_valid("CreateProcessingJob", req)
    env = req["Environment"]
    assert env["TLM_JOB_ROOT"] == "/opt/ml/processing" and env["SM_HPS"] == '{"target": "onnx-int8"}'
    assert env["SM_CHANNEL_MODEL"] == req["ProcessingInputs"][0]["S3Input"]["LocalPath"]
    # the image's one entry point; TLM_JOB_PROGRAM picks the program (jobs/entry.py)
    assert req["AppSpecification"]["ContainerEntrypoint"] == ["train"]
    assert env["TLM_JOB_PROGRAM"] == "compile"
    long = JobSpec(name="compile-02", program="compile", hyperparameters={"x": "y" * 300}, output_uri="s3://b/jobs")
    with pytest.raises(Invalid):
        processing_job_request(long, role_arn=ROLE, image_uri=IMAGE)
    req = processing_job_request(long, role_arn=ROLE, image_uri=IMAGE, hyperparameters_uri="s3://b/cfg/compile-02")
    assert_valid("CreateProcessingJob", req)
    assert req["ProcessingInputs"][-1]["S3Input"]["LocalPath"] == "/opt/ml/processing/input/config"


@pytest.mark.parametrize(
    ("status", "secondary", "expected"),
    [
        ("InProgress", "Starting", ("Pending", None)),
        ("InProgress", "LaunchingMLInstances", ("Pending", None)),
        ("InProgress", "Downloading", ("Pending", None)),
        ("InProgress", "Training", ("InProgress", None)),
        ("InProgress", "Interrupted", ("InProgress", None)),  # spot interruption, will resume
        ("InProgress", "Uploading", ("InProgress", None)),
        ("Completed", "Completed", ("Completed", None)),
        ("Failed", "Failed", ("Failed", None)),
        ("Stopping", "Stopping", ("Stopping", None)),
        ("Stopped", "Stopped", ("Stopped", None)),
        ("Stopped", "MaxRuntimeExceeded", ("Failed", "MaxRuntimeExceeded")),
        ("Stopped", "MaxWaitTimeExceeded", ("Failed", "MaxWaitTimeExceeded")),
    ],
)
def test_training_status_mapping(status, secondary, expected):
    state, reason = map_training_state(status, secondary)
    assert state == expected[0]
    assert (reason is None) == (expected[1] is None) and (reason or "").startswith(expected[1] or "")


def test_describe_responses_map_to_job_status():
    s = training_job_status(
        {
            "TrainingJobName": "t1",
            "TrainingJobStatus": "Failed",
            "SecondaryStatus": "Failed",
            "FailureReason": "AlgorithmError: out of memory",
            "FinalMetricDataList": [{"MetricName": "loss", "Value": 0.5}],
            "ModelArtifacts": {"S3ModelArtifacts": "s3://b/t1/output/model.tar.gz"},
        }
    )
    assert (s.state, s.failure_reason, s.metrics) == (
        "Failed",
        "AlgorithmError: out of memory",
        {"loss": 0.5},
    )
    assert s.model_artifacts == "s3://b/t1/output/model.tar.gz"
    p = processing_job_status(
        {
            "ProcessingJobName": "p1",
            "ProcessingJobStatus": "Completed",
            "ProcessingOutputConfig": {"Outputs": [{"OutputName": "model", "S3Output": {"S3Uri": "s3://b/p1/model"}}]},
        }
    )
    assert (p.state, p.model_artifacts) == ("Completed", "s3://b/p1/model")
    with pytest.raises(ValueError):
        map_training_state("Exploded", None)


@mock_aws
def test_moto_accepts_the_requests_and_logs_are_read_with_tokens():
    sm, logs, s3 = (boto3.client(s, region_name="us-east-1") for s in ("sagemaker", "logs", "s3"))
    s3.create_bucket(Bucket="tlm-artifacts")
    runner = SageMakerJobRunner(
        sm,
        logs,
        role_arn=ROLE,
        image_uris={"train": IMAGE, "compile": IMAGE},
        bucket="tlm-artifacts",
        s3_client=s3,
    )
    # Given a spot training job and a compile job with long hyperparameters
    runner.start(train_spec(use_spot=True, output_uri=""))
    runner.start(JobSpec(name="compile-9", program="compile", hyperparameters={"notes": "n" * 400}))
    desc = sm.describe_training_job(TrainingJobName="train-bert-tiny-01")
    assert desc["EnableManagedSpotTraining"] is True
    assert desc["CheckpointConfig"]["S3Uri"] == "s3://tlm-artifacts/jobs/checkpoints/train-bert-tiny-01"
    assert desc["OutputDataConfig"]["S3OutputPath"] == "s3://tlm-artifacts/jobs/output"
    assert runner.describe("compile-9").state == "Completed"  # moto finishes jobs at once
    assert s3.get_object(Bucket="tlm-artifacts", Key="jobs/config/compile-9/hyperparameters.json")
    # When the container writes log events, then some more
    now = int(time.time() * 1000)
    group = "/aws/sagemaker/TrainingJobs"
    assert runner.logs("train-bert-tiny-01") == ([], 0)  # no log group yet
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="train-bert-tiny-01/algo-1-1700000000")
    logs.put_log_events(
        logGroupName=group,
        logStreamName="train-bert-tiny-01/algo-1-1700000000",
        logEvents=[{"timestamp": now + i, "message": f"line {i}"} for i in range(3)],
    )
    first, nxt = runner.logs("train-bert-tiny-01")
    logs.put_log_events(
        logGroupName=group,
        logStreamName="train-bert-tiny-01/algo-1-1700000000",
        logEvents=[{"timestamp": now + 10, "message": "line 3"}],
    )
    rest, end = runner.logs("train-bert-tiny-01", start=nxt)
    # Then the tail continues where it stopped
    assert (first, nxt) == (["line 0", "line 1", "line 2"], 3)
    assert (rest, end) == (["line 3"], 4)
    assert runner.logs("train-bert-tiny-01", start=1)[0] == ["line 1", "line 2", "line 3"]


def test_every_job_request_carries_the_metric_definitions_of_the_jobs_log_lines():
    from jobs.contract import METRIC_NAMES, Metrics  # noqa: F401 - the names the programs log
    from runtime.adapters.sagemaker.requests import JOB_METRIC_NAMES, job_metric_definitions
    from runtime.workflows import asl
    from runtime.workflows.definitions import all_workflows

    assert JOB_METRIC_NAMES == METRIC_NAMES
    line = "metric: val_accuracy=0.8125 step=40"  # what jobs.contract.Metrics.log prints
    defs = {d["Name"]: d["Regex"] for d in job_metric_definitions()}
    assert re.search(defs["val_accuracy"], line).group(1) == "0.8125"
    for wf in all_workflows().values():
        for state in asl.render(wf, sync_jobs=True)["States"].values():
            if "createTrainingJob" in str(state.get("Resource", "")):
                assert state["Parameters"]["AlgorithmSpecification"]["MetricDefinitions"] == job_metric_definitions()
                assert "TLM_JOB_PROGRAM" in state["Parameters"]["Environment"]


def test_a_job_without_channels_sends_no_input_data_config_and_names_its_program():
    from runtime.adapters.sagemaker.requests import JOB_METRIC_NAMES

    spec = JobSpec(name="archtest-1", program="arch_test", hyperparameters={"a": 1}, instance_type="ml.m5.xlarge")
    req = training_job_request(spec, role_arn=ROLE, image_uri=IMAGE, output_uri="s3://b/o")
    assert "InputDataConfig" not in req  # botocore refuses an empty list
    assert_valid("CreateTrainingJob", req)
    assert req["Environment"]["TLM_JOB_PROGRAM"] == "arch_test"
    assert len(req["AlgorithmSpecification"]["MetricDefinitions"]) == len(JOB_METRIC_NAMES)
