"""Facts about jobs the platform keeps after the job directory is gone."""

from __future__ import annotations

from domain.events import DomainEvent, event

# The metric names jobs/ programs log as `metric: name=value` lines (jobs.contract) and every job
# request declares as MetricDefinitions (runtime.adapters.sagemaker.requests): one list for both.
METRIC_NAMES = (
    "train_loss",
    "learning_rate",
    "tokens_per_s",
    "steps_per_s",
    "epoch",
    "val_loss",
    "val_accuracy",
    "test_accuracy",
    "test_macro_f1",
    "latency_p50_ms",
    "latency_p95_ms",
    "max_abs_diff",
    "label_agreement",
    "speedup",
    "progress_pct",
    "eta_s",
    "avg_steps_per_s",
    "mlm_loss",
    "mlm_accuracy",
)


@event("job.log_archived")
class JobLogArchived(DomainEvent):
    """A finished job's whole log, stored as a content-addressed blob (stream ``job-<name>``)."""

    job: str
    state: str
    blob: str
    size: int
    sha256: str
