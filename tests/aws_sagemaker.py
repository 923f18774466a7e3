"""SageMaker, played for the chain test: what SageMaker does with a CreateTrainingJob request,
done here under the SageMaker execution role (channels downloaded into an /opt/ml-shaped temp tree,
checkpoints synced, the image's ``train`` entry point run, model.tar.gz / output.tar.gz uploaded,
moto's job given the outcome and the final metrics its MetricDefinitions read from the log)."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import tarfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.iam_audit import ACCOUNT, REGION

REPO = Path(__file__).resolve().parents[1]
TRAIN_SCRIPT = REPO / "jobs" / "bin" / "train"


def _split(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


class PlaysSageMaker:
    """Mixed into ``tests.aws_chain.Chain`` (which provides s3, rec, tmp, jobs, played, sagemaker_role)."""

    s3: Any
    rec: Any
    tmp: Path
    jobs: list[dict[str, Any]]
    played: set[str]
    sagemaker_role: str
    session: Any

    def _created(self, params: dict[str, Any], **_: Any) -> None:
        self.jobs.append(json.loads(json.dumps(params)))

    def play_new_jobs(self) -> list[str]:
        """Run every training job created (by the API) and not run yet."""
        names = []
        for req in list(self.jobs):
            if req["TrainingJobName"] not in self.played:
                self.play_training_job(req)
                names.append(req["TrainingJobName"])
        return names

    def play_training_job(self, req: dict[str, Any]) -> None:
        """What SageMaker does with a CreateTrainingJob request, run here: channels in, the
        image's ``train``, model.tar.gz + output.tar.gz out, the outcome on moto's job."""
        from moto.sagemaker.models import sagemaker_backends

        name = req["TrainingJobName"]
        self.played.add(name)
        root = self.tmp / "jobs" / name
        (root / "input" / "config").mkdir(parents=True)
        for d in ("input/data", "model", "output/data", "checkpoints"):
            (root / d).mkdir(parents=True, exist_ok=True)
        (root / "input" / "config" / "hyperparameters.json").write_text(json.dumps(req["HyperParameters"]))
        with self.rec.acting(self.sagemaker_role):
            for ch in req.get("InputDataConfig", []):
                bucket, prefix = _split(ch["DataSource"]["S3DataSource"]["S3Uri"])
                target = root / "input" / "data" / ch["ChannelName"]
                target.mkdir()
                pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
                for obj in [o for p in pages for o in p.get("Contents", [])]:
                    rel = obj["Key"][len(prefix) :].lstrip("/") or obj["Key"].rsplit("/", 1)[-1]
                    (target / rel).parent.mkdir(parents=True, exist_ok=True)
                    (target / rel).write_bytes(self.s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read())
            if req.get("CheckpointConfig"):  # a restarted job gets its checkpoints back
                self._sync_down(req["CheckpointConfig"]["S3Uri"], root / "checkpoints")
        env = {
            k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR", "TORCHINDUCTOR_CACHE_DIR")
        }
        env.update(req.get("Environment") or {})
        env.update(
            TLM_JOB_ROOT=str(root),  # the image sets /opt/ml
            PATH=str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", ""),
            PYTHONPATH=os.pathsep.join([str(REPO), str(REPO / "layers" / "runtime")]),
            OMP_NUM_THREADS="2",
            HF_HUB_OFFLINE="1",
            TRANSFORMERS_OFFLINE="1",
        )
        proc = subprocess.run(  # noqa: S603
            ["sh", str(TRAIN_SCRIPT)], env=env, cwd=root, capture_output=True, text=True, timeout=900
        )
        (root / "log.txt").write_text(proc.stdout + proc.stderr)
        job = sagemaker_backends[ACCOUNT][REGION].training_jobs[name]
        job.final_metric_data_list = _final_metrics(
            req["AlgorithmSpecification"].get("MetricDefinitions", []), proc.stdout
        )
        if proc.returncode != 0:
            failure = root / "output" / "failure"
            job.training_job_status = "Failed"
            job.failure_reason = failure.read_text()[:1024] if failure.exists() else proc.stderr[-1024:]
            return
        out_bucket, out_prefix = _split(req["OutputDataConfig"]["S3OutputPath"])
        base = "/".join(p for p in (out_prefix.rstrip("/"), name, "output") if p)
        with self.rec.acting(self.sagemaker_role):
            if req.get("CheckpointConfig"):
                ck_bucket, ck_prefix = _split(req["CheckpointConfig"]["S3Uri"])
                for p in sorted((root / "checkpoints").rglob("*")):
                    if p.is_file():
                        key = f"{ck_prefix.rstrip('/')}/{p.relative_to(root / 'checkpoints')}"
                        self.s3.put_object(Bucket=ck_bucket, Key=key, Body=p.read_bytes())
            self.s3.put_object(Bucket=out_bucket, Key=f"{base}/model.tar.gz", Body=_tar(root / "model"))
            self.s3.put_object(Bucket=out_bucket, Key=f"{base}/output.tar.gz", Body=_tar(root / "output" / "data"))
        job.model_artifacts = {"S3ModelArtifacts": f"s3://{out_bucket}/{base}/model.tar.gz"}

    def play_trial_jobs(self, prefix: str = "tlm-trial-") -> list[str]:
        """A study's trial jobs, played cheaply (no second training): each new ``tlm-trial-*`` job
        gets the scenario's trained model.tar.gz as its output (copied under the SageMaker role),
        its validation curve as ``metric:`` lines in its CloudWatch log stream (what the watch step
        reads for pruning) and final metrics that differ per trial (the objective)."""
        from moto.sagemaker.models import sagemaker_backends

        backend = sagemaker_backends[ACCOUNT][REGION]
        trained = next(
            backend.training_jobs[r["TrainingJobName"]].model_artifacts["S3ModelArtifacts"]
            for r in self.jobs
            if r["Environment"].get("TLM_JOB_PROGRAM") == "train" and r["TrainingJobName"] in self.played
            and not r["TrainingJobName"].startswith(prefix)
        )
        model = self.s3.get_object(Bucket=_split(trained)[0], Key=_split(trained)[1])["Body"].read()
        logs = self.session.client("logs")
        group = "/aws/sagemaker/TrainingJobs"
        if not logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]:
            logs.create_log_group(logGroupName=group)
        played = []
        for req in list(self.jobs):
            name = req["TrainingJobName"]
            if not name.startswith(prefix) or name in self.played:
                continue
            self.played.add(name)
            number = int(name.rsplit("-", 1)[1])
            curve = [0.5 + 0.05 * number, 0.55 + 0.1 * number]
            job = backend.training_jobs[name]
            bucket, key = _split(job.model_artifacts["S3ModelArtifacts"])
            stream = f"{name}/algo-1-1700000000"
            with self.rec.acting(self.sagemaker_role):
                self.s3.put_object(Bucket=bucket, Key=key, Body=model)
                logs.create_log_stream(logGroupName=group, logStreamName=stream)
                now = int(datetime.now(UTC).timestamp() * 1000)
                logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=[
                    {"timestamp": now + i, "message": f"metric: val_accuracy={v} step={i + 1}"}
                    for i, v in enumerate(curve)])  # fmt: skip
            job.final_metric_data_list = [
                {"MetricName": m, "Value": v, "Timestamp": datetime.now(UTC)}
                for m, v in (("val_accuracy", curve[-1]), ("train_loss", 1.0 - curve[-1]), ("val_loss", 0.9))
            ]
            played.append(name)
        return played

    def _sync_down(self, uri: str, dest: Path) -> None:
        bucket, prefix = _split(uri)
        prefix = prefix.rstrip("/") + "/"
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        for obj in [o for p in pages for o in p.get("Contents", [])]:
            target = dest / obj["Key"][len(prefix) :]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(self.s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read())


def _final_metrics(defs: list[dict[str, str]], log: str) -> list[dict[str, Any]]:
    out = []
    for d in defs:
        values = re.findall(d["Regex"], log)
        if values:
            out.append({"MetricName": d["Name"], "Value": float(values[-1]), "Timestamp": datetime.now(UTC)})
    return out


def _tar(src: Path) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for p in sorted(src.rglob("*")):
            if p.is_file():
                tar.add(p, arcname=str(p.relative_to(src)))
    return buf.getvalue()
