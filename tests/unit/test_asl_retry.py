"""Retry policies survive rendering to ASL exactly: interval, backoff, max attempts and error names,
for the SageMaker create + poll form and the ``.sync`` form, through the public ``render`` only.

A renderer that fixed ``IntervalSeconds`` at 1 or ``BackoffRate`` at 1.0 (or dropped an error
name) passed every other test; here each field is compared with what the definition declares."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from domain.workflows import model as m
from runtime.workflows.asl import render
from runtime.workflows.definitions import all_workflows

pytestmark = pytest.mark.unit

JOB = m.JobTemplate(program="train", name_prefix="t")
POLICY = m.Retry(errors=(m.JOB_FAILED, m.JOB_LOST, "Custom.Flaky"), interval_s=7, max_attempts=4, backoff=1.5)
STEP_POLICY = m.Retry(errors=("Lambda.TooManyRequestsException",), interval_s=3, max_attempts=5, backoff=3.0)


def _workflow() -> m.Workflow:
    return m.Workflow(
        name="retry-probe",
        start_at="Train",
        states=(
            m.JobTask(name="Train", job=JOB, retry=(POLICY,), next="Report", poll_seconds=5),
            m.StepTask(name="Report", function="report", retry=(STEP_POLICY,), end=True),
        ),
    )


def _states(asl: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every state of a machine, nested branches and iterators included."""
    for name, state in asl.get("States", {}).items():
        yield name, state
        for branch in state.get("Branches", []):
            yield from _states(branch)
        for key in ("Iterator", "ItemProcessor"):
            if key in state:
                yield from _states(state[key])


def _retry_of(asl: dict[str, Any], name: str) -> list[dict[str, Any]]:
    found = [s["Retry"] for n, s in _states(asl) if n == name and "Retry" in s]
    assert len(found) == 1, f"state {name} carries its Retry once, found {len(found)}"
    return found[0]


def test_poll_form_renders_the_declared_retry_exactly() -> None:
    asl = render(_workflow())
    assert _retry_of(asl, "Train") == [
        {
            "ErrorEquals": [m.JOB_FAILED, m.JOB_LOST, "Custom.Flaky"],
            "IntervalSeconds": 7,
            "MaxAttempts": 4,
            "BackoffRate": 1.5,
        }
    ]
    assert _retry_of(asl, "Report") == [
        {"ErrorEquals": ["Lambda.TooManyRequestsException"], "IntervalSeconds": 3, "MaxAttempts": 5, "BackoffRate": 3.0}
    ]


def test_sync_form_maps_job_errors_to_task_failed_and_keeps_the_numbers() -> None:
    asl = render(_workflow(), sync_jobs=True)
    train = asl["States"]["Train"]
    assert train["Resource"].endswith("createTrainingJob.sync")
    # TLM's job errors are all States.TaskFailed on .sync (once), other names stay as declared
    assert train["Retry"] == [
        {"ErrorEquals": [m.TASK_FAILED, "Custom.Flaky"], "IntervalSeconds": 7, "MaxAttempts": 4, "BackoffRate": 1.5}
    ]


@pytest.mark.parametrize("sync", [False, True], ids=["poll", "sync"])
def test_every_shipped_workflow_renders_its_declared_retries(sync: bool) -> None:
    options = {"job_retries": 3, "retry_interval_s": 45, "poll_seconds": 30}
    checked = 0
    for name, defn in all_workflows(**options).items():
        asl = render(defn, sync_jobs=sync)
        for state in defn.states:
            if not getattr(state, "retry", ()):
                continue
            rendered = _retry_of(asl, state.name)
            assert len(rendered) == len(state.retry), (name, state.name)
            for declared, got in zip(state.retry, rendered, strict=True):
                assert got["IntervalSeconds"] == max(1, declared.interval_s), (name, state.name)
                assert got["BackoffRate"] == declared.backoff, (name, state.name)
                assert got["MaxAttempts"] == declared.max_attempts, (name, state.name)
                if not (sync and isinstance(state, m.JobTask)):
                    assert got["ErrorEquals"] == list(declared.errors), (name, state.name)
            checked += 1
    # the shipped job steps take the options: a job retry is 45 s x backoff, 3 attempts
    assert checked >= 2
    job_retries = [
        r
        for defn in all_workflows(**options).values()
        for s in defn.states
        if isinstance(s, m.JobTask)
        for r in s.retry
    ]
    assert job_retries and all((r.interval_s, r.max_attempts) == (45, 3) and r.backoff > 1 for r in job_retries)
