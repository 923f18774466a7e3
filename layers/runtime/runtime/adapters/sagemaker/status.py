"""Map SageMaker Describe*Job responses onto the port's JobStatus (pure functions).

Port states: Pending (instances still being prepared), InProgress, Completed, Failed,
Stopping, Stopped. A job stopped by SageMaker for exceeding its runtime or spot wait limit
is a failure, as the local runner reports a timeout.
"""

from __future__ import annotations

from typing import Any

from runtime.ports import JobStatus

# InProgress secondary statuses before the container runs the program.
PENDING_SECONDARY = frozenset(
    {
        "Starting",
        "Pending",
        "LaunchingMLInstances",
        "PreparingTrainingStack",
        "Downloading",
        "DownloadingTrainingImage",
    }
)
LIMIT_SECONDARY = {
    "MaxRuntimeExceeded": "MaxRuntimeExceeded: the job ran past its MaxRuntimeInSeconds",
    "MaxWaitTimeExceeded": (
        "MaxWaitTimeExceeded: spot capacity did not finish the job within MaxWaitTimeInSeconds"
    ),
}


def map_training_state(status: str, secondary: str | None) -> tuple[str, str | None]:
    """(TrainingJobStatus, SecondaryStatus) -> (port state, reason for limit failures)."""
    if status == "InProgress":
        return ("Pending" if secondary in PENDING_SECONDARY else "InProgress"), None
    if status == "Stopped" and secondary in LIMIT_SECONDARY:
        return "Failed", LIMIT_SECONDARY[secondary]
    if status in ("Completed", "Failed", "Stopping", "Stopped"):
        return status, None
    raise ValueError(f"unknown SageMaker job status {status!r}")


def training_job_status(desc: dict[str, Any]) -> JobStatus:
    state, limit_reason = map_training_state(desc["TrainingJobStatus"], desc.get("SecondaryStatus"))
    metrics = {
        m["MetricName"]: float(m["Value"])
        for m in desc.get("FinalMetricDataList") or []
        if "MetricName" in m and "Value" in m
    }
    return JobStatus(
        name=desc["TrainingJobName"],
        state=state,
        failure_reason=limit_reason or (desc.get("FailureReason") if state == "Failed" else None),
        started_at=desc.get("TrainingStartTime"),
        ended_at=desc.get("TrainingEndTime"),
        metrics=metrics,
        model_artifacts=(desc.get("ModelArtifacts") or {}).get("S3ModelArtifacts"),
    )


def processing_job_status(desc: dict[str, Any]) -> JobStatus:
    state = desc["ProcessingJobStatus"]
    if state not in ("InProgress", "Completed", "Failed", "Stopping", "Stopped"):
        raise ValueError(f"unknown SageMaker job status {state!r}")
    reason = desc.get("FailureReason") or desc.get("ExitMessage")
    if state == "Stopped" and reason and "MaxRuntime" in reason:
        state = "Failed"
    outputs = (desc.get("ProcessingOutputConfig") or {}).get("Outputs") or []
    model = next(
        (o["S3Output"]["S3Uri"] for o in outputs if o.get("OutputName") == "model" and "S3Output" in o), None
    )
    return JobStatus(
        name=desc["ProcessingJobName"],
        state=state,
        failure_reason=reason if state == "Failed" else None,
        started_at=desc.get("ProcessingStartTime"),
        ended_at=desc.get("ProcessingEndTime"),
        model_artifacts=model,
    )
