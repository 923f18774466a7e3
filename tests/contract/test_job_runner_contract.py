"""One JobRunner contract, run against the local runner and the SageMaker runner on moto.

moto completes a SageMaker job as soon as it is created and has no StopTrainingJob, so
"stop a running job" runs for the local runner only.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from domain.errors import Conflict, Invalid, NotFound
from runtime.adapters.local_jobs import LocalJobRunner
from runtime.adapters.sagemaker import SageMakerJobRunner, metric_definitions_for
from runtime.ports import JOB_STATES, JobSpec, JobStatus

pytestmark = pytest.mark.contract
FAKE = str(Path(__file__).parents[1] / "integration" / "_fake_job.py")
ACTIVE = ("Pending", "InProgress", "Stopping")


class Case:
    def __init__(self, kind: str, runner: Any, make: Callable[..., JobSpec]) -> None:
        self.kind, self.runner, self.make = kind, runner, make


@pytest.fixture(params=["local", "sagemaker"])
def case(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Case]:
    if request.param == "local":
        runner = LocalJobRunner(tmp_path / "jobs", grace_s=1.0)
        runner.register_program("train", FAKE)

        def make(name: str, **hps: Any) -> JobSpec:
            return JobSpec(
                name=name,
                program="train",
                hyperparameters=hps,
                max_runtime_s=30,
                metric_definitions=metric_definitions_for("loss"),
            )

        yield Case("local", runner, make)
        return
    with mock_aws():
        sm, logs = boto3.client("sagemaker"), boto3.client("logs")
        runner = SageMakerJobRunner(
            sm,
            logs,
            role_arn="arn:aws:iam::123456789012:role/jobs",
            image_uris={"train": "123456789012.dkr.ecr.us-east-1.amazonaws.com/tlm:1"},
            bucket="tlm-artifacts",
        )

        def make(name: str, **hps: Any) -> JobSpec:
            return JobSpec(
                name=name,
                program="train",
                hyperparameters=hps,
                channels={"train": "s3://tlm-data/train/"},
                metric_definitions=metric_definitions_for("loss"),
            )

        yield Case("sagemaker", runner, make)


def settle(runner: Any, name: str, timeout: float = 20) -> JobStatus:
    deadline = time.monotonic() + timeout
    while (status := runner.describe(name)).state in ACTIVE:
        assert time.monotonic() < deadline, f"{name} still {status.state}"
        time.sleep(0.05)
    return status


def test_start_returns_the_name_and_describe_reports_a_port_state(case):
    assert case.runner.start(case.make("job-1", steps=2)) == "job-1"
    first = case.runner.describe("job-1")
    assert first.name == "job-1" and first.state in JOB_STATES
    final = settle(case.runner, "job-1")
    assert final.state == "Completed" and final.failure_reason is None
    assert final.model_artifacts


def test_a_taken_name_is_a_conflict(case):
    case.runner.start(case.make("dup-1", steps=1))
    with pytest.raises(Conflict):
        case.runner.start(case.make("dup-1", steps=1))
    settle(case.runner, "dup-1")
    with pytest.raises(Conflict):
        case.runner.start(case.make("dup-1", steps=1))


def test_unknown_jobs_are_not_found_and_bad_names_invalid(case):
    with pytest.raises(NotFound):
        case.runner.describe("nope-1")
    with pytest.raises(NotFound):
        case.runner.stop("nope-1")
    with pytest.raises(Invalid):
        case.runner.start(case.make("not_valid!"))


def test_stopping_a_finished_job_changes_nothing(case):
    case.runner.start(case.make("done-1", steps=1))
    before = settle(case.runner, "done-1")
    case.runner.stop("done-1")
    assert case.runner.describe("done-1").state == before.state == "Completed"


def test_logs_are_paged_by_line_index(case):
    case.runner.start(case.make("logs-1", steps=3))
    settle(case.runner, "logs-1")
    if case.kind == "sagemaker":
        # moto runs no container: write what the fake job prints where SageMaker puts it
        logs = boto3.client("logs")
        group, stream = "/aws/sagemaker/TrainingJobs", "logs-1/algo-1-1700000000"
        logs.create_log_group(logGroupName=group)
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
        printed = [f"metric: loss={1.0 / n:.4f} step={n}" for n in (1, 2, 3)] + ["done"]
        now_ms = int(time.time() * 1000)  # CloudWatch drops events older than 14 days
        events = [{"timestamp": now_ms + i, "message": m} for i, m in enumerate(printed)]
        logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=events)
    lines, nxt = case.runner.logs("logs-1")
    assert nxt == len(lines)
    # the lines the job wrote, in order (the local runner may add its own lines around them)
    wrote = ["metric: loss=1.0000 step=1", "metric: loss=0.5000 step=2", "metric: loss=0.3333 step=3", "done"]
    assert [line for line in lines if line.strip() in wrote] == wrote, lines
    assert case.runner.logs("logs-1", start=nxt) == ([], nxt)
    assert case.runner.logs("logs-1", start=nxt - 1) == ([lines[-1]], nxt)


def test_stopping_a_running_job_ends_stopped(case):
    if case.kind == "sagemaker":
        pytest.skip("moto completes SageMaker jobs at creation and lacks StopTrainingJob")
    case.runner.start(case.make("run-1", steps=1000, sleep=0.05))
    case.runner.stop("run-1")
    assert case.runner.describe("run-1").state in ("Stopping", "Stopped")
    assert settle(case.runner, "run-1").state == "Stopped"
