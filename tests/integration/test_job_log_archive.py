"""A finished job's log lands in the blob store, and the log says where."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import pytest

from runtime.bootstrap import build_local
from runtime.ports import JobSpec
from runtime.settings import Settings

pytestmark = pytest.mark.integration
FAKE = str(Path(__file__).with_name("_fake_job.py"))


@pytest.fixture
def c(tmp_path: Path):
    container = build_local(Settings(data_dir=tmp_path / "data"))
    yield container
    container.close()


@pytest.mark.parametrize("hps,state", [({"steps": 2, "sleep": 0}, "Completed"), ({"fail": "boom"}, "Failed")])
def test_a_finished_jobs_log_is_archived_as_a_blob(c, hps, state):
    c.jobs.register_program("fake", FAKE)
    name = f"fake-{state.lower()}"
    c.jobs.start(JobSpec(name=name, program="fake", hyperparameters=hps))
    assert c.jobs.wait(name, timeout=60).state == state
    deadline = time.time() + 15  # the sink runs right after the final status is written
    while (archived := c.job_logs.archived(name)) is None and time.time() < deadline:
        time.sleep(0.05)
    assert archived is not None and archived["state"] == state
    data = b"".join(c.blobs.open_range(archived["blob"]))
    assert hashlib.sha256(data).hexdigest() == archived["sha256"] and len(data) == archived["size"]
    lines, _ = c.jobs.logs(name)
    assert "fake job starting" in data.decode() and lines  # the same log, still tailable from the job dir
    c.job_logs.sink(name, c.settings.data_dir / "jobs" / name / "logs.txt", c.jobs.describe(name))
    assert len(c.store.read(f"job-{name}")) == 1  # archived once
