"""Reactions on the local platform (real SQLite, the real local workflow runner): a training
request starts exactly one run however the process dies around it, and the run's end is recorded
on the training.

The helper process (``_crash_reactions.py``) asks for a training through ``TrainingService.start``
(its only write is ``training.requested``) and SIGKILLs itself either before any reaction ran or
after the start reaction started the run but before its tracking position moved. The restarted
platform then does what ``tlm serve`` does at startup: catch up the subscription (views, then
reactions) and resume unfinished runs."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from runtime.bootstrap import Container, build_local
from runtime.services.commands import Caller
from runtime.settings import Settings

pytestmark = [pytest.mark.integration, pytest.mark.slow]
HELPER = Path(__file__).with_name("_crash_reactions.py")
ALICE = Caller("alice")


def crash(data_dir: Path, mode: str) -> str:
    out = subprocess.run([sys.executable, str(HELPER), str(data_dir), mode], capture_output=True, text=True,
                         timeout=120)  # fmt: skip
    assert out.returncode == -signal.SIGKILL, out.stderr
    return out.stdout.strip().splitlines()[-1]


def run_starts(c: Container, training_id: str) -> int:
    """Runs started for the training anywhere in the log (the test may scan; the platform never)."""
    return sum(
        1
        for e in c.store.read_all(limit=100_000)
        if e.type == "workflowrun.started" and e.data["input"].get("training_id") == training_id
    )


def restart(data_dir: Path) -> Container:
    c = build_local(Settings(data_dir=data_dir))
    c.catch_up()  # views, then reactions: what the server's startup does first
    c.jobs.reconcile()
    c.workflows.resume_incomplete()
    return c


def stop_runs(c: Container) -> None:
    """No run thread may outlive the container's database (a failed assertion leaves some)."""
    for row in c.project_runs.rows():
        if row["status"] in ("running", "cancelling"):
            with contextlib.suppress(Exception):
                c.workflows.cancel(row["run_id"], reason="test over")
            c.workflows.wait(row["run_id"], timeout=60)


def cancel_and_settle(c: Container, training_id: str) -> dict:
    c.training.cancel(ALICE, training_id)
    c.workflows.wait(training_id, timeout=60)
    c.catch_up()  # the record-run-outcome reaction
    return c.training.get(ALICE, training_id)


@pytest.mark.parametrize("mode", ["after-request", "after-start"])
def test_a_kill_around_the_start_leaves_exactly_one_run(tmp_path: Path, mode: str) -> None:
    # Given a process killed (-9) right after "training requested" (or right after its run started,
    # before the reaction's position moved)
    data = tmp_path / "data"
    tid = crash(data, mode)
    before = build_local(Settings(data_dir=data))
    assert run_starts(before, tid) == (1 if mode == "after-start" else 0)
    before.close()
    # When the platform restarts (and catches up again, as its background thread keeps doing)
    c = restart(data)
    try:
        c.catch_up()
        # Then the training has exactly one run, under the id derived from the request
        assert run_starts(c, tid) == 1
        shown = c.training.get(ALICE, tid)
        assert shown["run_id"] == tid and shown["state"] in ("running", "cancelling")
        assert c.projector is not None and c.projector.reactor.failures == {}
        assert [r["run_id"] for r in c.project_runs.list(ALICE)] == [tid]
        # And once the run ends (cancelled here), the outcome is recorded on the training
        ended = cancel_and_settle(c, tid)
        assert ended["state"] == "cancelled" and ended["outcome"] == "cancelled"
        types = [e.type for e in c.store.read(f"training-{tid}")]
        assert types == ["training.requested", "training.ended"]
        c.catch_up()  # a redelivery (positions are past it) changes nothing
        assert [e.type for e in c.store.read(f"training-{tid}")] == types and run_starts(c, tid) == 1
    finally:
        stop_runs(c)
        c.close()
