"""The workflow run aggregate's Map/Parallel bookkeeping (which items finished, how, and which jobs
are still out) and which runs a start may not reuse, decided purely."""

from __future__ import annotations

import pytest

from domain.errors import Conflict
from domain.workflows import events as ev
from domain.workflows.run import Finish, StartRun, WorkflowRun

pytestmark = pytest.mark.unit
START = StartRun(run_id="r1", workflow="w", input={})


def test_finished_items_record_their_outcome_and_leave_only_the_other_jobs_running() -> None:
    # Given a Map step with three items whose jobs were launched
    state = WorkflowRun.fold([
        ev.RunStarted(run_id="r1", workflow="w", input={}),
        ev.StepStarted(step="Map", attempt=1),
        *(ev.IterationJobLaunched(step="Map", attempt=1, index=i, job_name=f"j{i}") for i in range(3)),
    ])  # fmt: skip
    # When the middle item succeeds and the first fails
    state = WorkflowRun.fold([ev.IterationSucceeded(step="Map", attempt=1, index=1, output={"acc": 0.9})], state)
    assert state.items == {1: {"output": {"acc": 0.9}}} and state.item_jobs == {0: "j0", 2: "j2"}
    state = WorkflowRun.fold([ev.IterationFailed(step="Map", attempt=1, index=0, error="E", cause="c")], state)
    # Then each finished item holds its own outcome and only the last item's job is still out
    assert state.items == {1: {"output": {"acc": 0.9}}, 0: {"error": "E", "cause": "c"}}
    assert state.item_jobs == {2: "j2"}


@pytest.mark.parametrize("end", [ev.RunSucceeded(output={}), ev.RunFailed(error="E", cause=""), ev.RunCancelled()])
def test_a_finished_run_cannot_be_started_again(end: ev.DomainEvent) -> None:
    state = WorkflowRun.fold(WorkflowRun.decide(WorkflowRun.initial(), START))
    state = WorkflowRun.fold(WorkflowRun.decide(state, Finish(event=end)), state)
    assert state.finished
    with pytest.raises(Conflict):
        WorkflowRun.decide(state, START)
