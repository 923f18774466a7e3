"""A pruned trial is stopped through ``JobRunner.stop`` on both backends: SIGTERM -> checkpoint ->
exit 143 -> state Stopped (``jobs.contract.prune_requested``).

Local: the real ``jobs.train`` on a tiny config under the local runner. SageMaker: moto completes
training jobs at creation and has no StopTrainingJob, so the calls the runner makes are checked
against botocore's own service model (a Stubber validates every request's parameters), together
with the checkpoint location SageMaker syncs: the one the job writes to.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber

from runtime.adapters.local_jobs import LocalJobRunner
from runtime.adapters.sagemaker import SageMakerJobRunner
from runtime.ports import JobSpec

pytestmark = pytest.mark.integration

CONFIG = {
    "family": "bert",
    "architecture": {"num_hidden_layers": 1, "hidden_size": 32, "num_attention_heads": 2, "intermediate_size": 64,
                     "max_position_embeddings": 64, "hidden_act": "gelu"},
    "training": {"learning_rate": 1e-3, "batch_size": 8, "epochs": 200, "max_seq_length": 32, "seed": 1,
                 "early_stopping_patience": 0},
    "tokenizer": {"type": "wordpiece-char", "vocab_size": 200, "lowercase": True},
}  # fmt: skip


def _data(path: Path, n: int) -> Path:
    rows = [{"text": ("这部电影很好看" if i % 2 else "服务太差了不推荐") + str(i), "label": "pos" if i % 2 else "neg"}
            for i in range(n)]  # fmt: skip
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.mark.slow  # starts torch in a subprocess: ~10 s on a busy machine
def test_a_pruned_local_training_job_checkpoints_and_ends_stopped_with_143(tmp_path):
    pytest.importorskip("torch")
    # Given a real training job that validates every 4 steps and would run for a long time
    runner = LocalJobRunner(tmp_path / "jobs", grace_s=60.0)
    spec = JobSpec(
        name="trial-7",
        program="train",
        hyperparameters={"config": json.dumps(CONFIG), "eval_every": 4, "checkpoint_every": 0, "log_every": 2,
                         "num_threads": 1},
        channels={"train": str(_data(tmp_path / "train.jsonl", 64)),
                  "validation": str(_data(tmp_path / "validation.jsonl", 16))},
        max_runtime_s=300,
    )  # fmt: skip
    runner.start(spec)
    # When its first validation is in (the pruner's evidence) and it is pruned through the port
    deadline = time.monotonic() + 180
    while not any(ln.startswith("metric: val_loss") for ln in runner.logs("trial-7")[0]):
        assert runner.describe("trial-7").state == "InProgress", runner.logs("trial-7")[0][-20:]
        assert time.monotonic() < deadline, "no validation within 180 s"
        time.sleep(0.2)
    runner.stop("trial-7")
    while (status := runner.describe("trial-7")).state in ("InProgress", "Stopping"):
        assert time.monotonic() < deadline, runner.logs("trial-7")[0][-20:]
        time.sleep(0.2)
    # Then it saved a checkpoint (checkpoint_every=0: only the stop saves one), exited 143, and is
    # Stopped, not Failed, with its intermediate validations kept for whoever pruned it
    job = tmp_path / "jobs" / "trial-7"
    lines = runner.logs("trial-7")[0]
    assert status.state == "Stopped" and status.failure_reason is None, lines[-20:]
    assert json.loads((job / "exit.json").read_text())["exit_code"] == 143
    assert [p.name for p in (job / "checkpoints").glob("step-*")], lines[-20:]
    assert any(ln.startswith("checkpoint saved: step-") for ln in lines)
    assert not (job / "output" / "failure").exists()
    assert (job / "output" / "data" / "intermediate.jsonl").read_text().strip()


def test_a_pruned_sagemaker_training_job_is_stopped_with_stop_training_job():
    sm = boto3.client("sagemaker", region_name="us-east-1")
    runner = SageMakerJobRunner(
        sm,
        boto3.client("logs", region_name="us-east-1"),
        role_arn="arn:aws:iam::123456789012:role/jobs",
        image_uris={"train": "123456789012.dkr.ecr.us-east-1.amazonaws.com/tlm:1"},
        bucket="tlm-artifacts",
    )
    spec = JobSpec(name="trial-8", program="train", hyperparameters={"epochs": 3})
    kind, request = runner.request_for(spec)
    # the checkpoint the stopped job writes (contract.checkpoint_dir under /opt/ml) is the one synced
    assert kind == "training" and request["CheckpointConfig"]["LocalPath"] == "/opt/ml/checkpoints"
    assert request["CheckpointConfig"]["S3Uri"].startswith("s3://tlm-artifacts/")

    def described(status: str, secondary: str) -> dict:
        return {
            "TrainingJobName": "trial-8",
            "TrainingJobArn": "arn:aws:sagemaker:us-east-1:123456789012:training-job/trial-8",
            "TrainingJobStatus": status,
            "SecondaryStatus": secondary,
            "ModelArtifacts": {"S3ModelArtifacts": ""},
            "AlgorithmSpecification": request["AlgorithmSpecification"],
            "ResourceConfig": request["ResourceConfig"],
            "StoppingCondition": request["StoppingCondition"],
            "CreationTime": "2026-01-01T00:00:00Z",
        }  # fmt: skip

    with Stubber(sm) as stub:
        # Given a training job in progress; When it is pruned through the port
        stub.add_response("describe_training_job", described("InProgress", "Training"), {"TrainingJobName": "trial-8"})
        stub.add_response("stop_training_job", {}, {"TrainingJobName": "trial-8"})
        runner.stop("trial-8")
        # Then SageMaker was asked to stop it (it sends the container SIGTERM), and once it has
        # the job reads as Stopped
        stub.add_response("describe_training_job", described("Stopped", "Stopped"), {"TrainingJobName": "trial-8"})
        assert runner.describe("trial-8").state == "Stopped"
        # and pruning it again asks nothing more
        stub.add_response("describe_training_job", described("Stopped", "Stopped"), {"TrainingJobName": "trial-8"})
        runner.stop("trial-8")
        stub.assert_no_pending_responses()
