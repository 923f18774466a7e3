"""The pure interpreter: next state after success, retry, catch, choice, end; Map / Parallel
fan-in with tolerated failures; and a whole workflow driven with fake effects."""

from __future__ import annotations

from typing import Any

import pytest

from domain.workflows import interpreter as i
from domain.workflows import model as m

pytestmark = pytest.mark.unit

RETRY = m.Retry(errors=(m.JOB_FAILED,), interval_s=2, max_attempts=2, backoff=3.0)
TASK = m.StepTask(
    name="Work",
    function="work",
    result_path="$.out",
    next="Check",
    retry=(RETRY,),
    catch=(m.Catch(errors=(m.ALL_ERRORS,), next="Recover"),),
)
FLOW = m.Workflow(
    name="flow",
    start_at="Work",
    states=(
        TASK,
        m.Choice(
            name="Check",
            choices=(m.ChoiceRule(variable="$.out.n", op="numeric_greater_than", value=1, next="Big"),),
            default="Done",
        ),
        m.Pass(name="Big", result="big", result_path="$.kind", next="Done"),
        m.Pass(name="Recover", result=True, result_path="$.recovered", end=True),
        m.Succeed(name="Done"),
    ),
)


def test_start_executes_the_start_state_and_a_restart_marks_it_resumed() -> None:
    assert i.next_action(FLOW, i.Cursor(document={})) == i.Execute(TASK, 1, resumed=False)
    resumed = i.next_action(FLOW, i.Cursor(step="Work", attempt=2, document={}, current_step="Work"))
    assert resumed == i.Execute(TASK, 2, resumed=True)


def test_success_puts_the_result_at_result_path_and_goes_next() -> None:
    a = i.after_success(TASK, 1, {"x": 1}, {"n": 2})
    assert a == i.Advance("Work", 1, {"x": 1, "out": {"n": 2}}, "Check")
    cur = i.moved(i.Cursor(document={"x": 1}), a)
    assert cur == i.Cursor(step="Check", document={"x": 1, "out": {"n": 2}})
    assert i.next_action(FLOW, cur) == i.Advance("Check", 1, cur.document, "Big")


def test_retry_then_catch_then_fail() -> None:
    cur = i.failed(i.Cursor(step="Work", document={"x": 1}), m.JOB_FAILED, "oom")
    assert i.next_action(FLOW, cur) == i.Retry("Work", 2, 2.0)
    third = i.failed(i.Cursor(step="Work", attempt=2, document={"x": 1}), m.JOB_FAILED, "oom")
    assert i.next_action(FLOW, third) == i.Retry("Work", 3, 6.0)  # backoff 3
    exhausted = i.failed(i.Cursor(step="Work", attempt=3, document={"x": 1}), m.JOB_FAILED, "oom")
    caught = i.next_action(FLOW, exhausted)
    assert caught == i.Caught(
        "Work", m.JOB_FAILED, "oom", "Recover", {"x": 1, "error": {"Error": m.JOB_FAILED, "Cause": "oom"}}
    )
    # an error no retrier names goes straight to the catcher
    other = i.next_action(FLOW, i.failed(i.Cursor(step="Work", document={}), "ValueError", "bad"))
    assert isinstance(other, i.Caught) and other.next == "Recover"
    # a bad path (States.Runtime) is neither retried nor caught
    runtime = i.next_action(FLOW, i.failed(i.Cursor(step="Work", document={}), i.RUNTIME_ERROR, "no $.x"))
    assert runtime == i.Finish("failed", error=i.RUNTIME_ERROR, cause="no $.x", step="Work")


def test_choice_without_a_match_or_default_fails_the_run() -> None:
    choice = m.Choice(name="C", choices=(m.ChoiceRule(variable="$.a", op="is_present", value=True, next="D"),))
    w = m.Workflow(name="c", start_at="C", states=(choice, m.Succeed(name="D")))
    assert i.next_action(w, i.Cursor(document={})) == i.Finish(
        "failed", error=i.NO_CHOICE, cause="no rule of 'C' matched", step="C"
    )
    assert i.next_action(w, i.Cursor(document={"a": 0})) == i.Advance("C", 1, {"a": 0}, "D")


def test_end_succeed_and_fail() -> None:
    assert i.next_action(FLOW, i.Cursor(document={"y": 1}, at_end=True)) == i.Finish("succeeded", output={"y": 1})
    assert i.next_action(FLOW, i.Cursor(step="Done", document=2)) == i.Finish("succeeded", output=2)
    w = m.Workflow(name="f", start_at="F", states=(m.Fail(name="F", error="E", cause="why"),))
    assert i.next_action(w, i.Cursor()) == i.Finish("failed", error="E", cause="why", step="F")


def map_state(pct: float = 0) -> m.MapState:
    it = m.Workflow(name="it", start_at="P", states=(m.Pass(name="P", end=True),))
    return m.MapState(name="M", items_path="$.xs", iterator=it, tolerated_failure_percentage=pct, end=True)


def test_fan_in_orders_outputs_and_applies_the_tolerance() -> None:
    ok, bad = {"output": 1}, {"error": m.JOB_FAILED, "cause": "oom"}
    assert i.fan_in(map_state(), {1: {"output": "b"}, 0: {"output": "a"}}, 2) == ["a", "b"]
    with pytest.raises(m.StepError) as err:  # no tolerance: the first failed item's error
        i.fan_in(map_state(), {0: ok, 2: {"error": "X", "cause": ""}, 1: bad}, 3)
    assert err.value.error == m.JOB_FAILED
    assert i.fan_in(map_state(34), {0: ok, 1: bad, 2: ok}, 3) == [1, {"Error": m.JOB_FAILED, "Cause": "oom"}, 1]
    with pytest.raises(m.StepError) as err:
        i.fan_in(map_state(34), {0: bad, 1: bad, 2: ok}, 3)
    assert err.value.error == m.TOLERANCE_EXCEEDED
    assert not i.should_abort(map_state(34), {0: bad}, 3) and i.should_abort(map_state(34), {0: bad, 1: bad}, 3)
    assert i.should_abort(map_state(), {0: bad}, 3)


def test_a_whole_run_driven_with_fake_effects() -> None:
    """The loop a runner implements, with effects as a function: a retry, then a choice."""
    calls: list[int] = []

    def effect(s: Any, attempt: int, doc: Any) -> Any:
        calls.append(attempt)
        if attempt == 1:
            raise m.StepError(m.JOB_FAILED, "flaky")
        return {"n": 5}

    cur, seen = i.Cursor(document={"x": 1}), []
    while not isinstance(action := i.next_action(FLOW, cur), i.Finish):
        step = action.state.name if isinstance(action, i.Execute) else action.step
        seen.append(f"{type(action).__name__}:{step}")
        if isinstance(action, i.Execute):
            try:
                action = i.after_success(
                    action.state, action.attempt, cur.document, effect(action.state, action.attempt, cur.document)
                )
            except m.StepError as exc:
                cur = i.failed(
                    i.Cursor(step=action.state.name, attempt=action.attempt, document=cur.document),
                    exc.error,
                    exc.cause,
                )
                continue
        cur = i.moved(cur, action)
    assert action == i.Finish("succeeded", output={"x": 1, "out": {"n": 5}, "kind": "big"})
    assert calls == [1, 2]
    assert seen == ["Execute:Work", "Retry:Work", "Execute:Work", "Advance:Check", "Advance:Big"]


def test_the_run_keeps_finished_items_across_a_resume_and_drops_them_after_the_step() -> None:
    from domain.workflows import events as ev
    from domain.workflows.run import WorkflowRun

    st = WorkflowRun.fold(
        [
            ev.RunStarted(run_id="r", workflow="w", input={}, parent_run_id="p"),
            ev.StepStarted(step="Each", attempt=1),
            ev.IterationJobLaunched(step="Each", attempt=1, index=0, job_name="j0"),
            ev.IterationJobLaunched(step="Each", attempt=1, index=1, job_name="j1"),
            ev.IterationSucceeded(step="Each", attempt=1, index=0, output={"ok": 1}),
            ev.IterationFailed(step="Each", attempt=1, index=2, error="E", cause="c"),
        ]
    )
    assert st.parent_run_id == "p" and st.item_jobs == {1: "j1"}
    assert st.items == {0: {"output": {"ok": 1}}, 2: {"error": "E", "cause": "c"}}
    resumed = WorkflowRun.fold([ev.StepStarted(step="Each", attempt=1, resumed=True)], st)
    assert resumed.items == st.items and resumed.item_jobs == {1: "j1"}
    again = WorkflowRun.fold([ev.StepStarted(step="Each", attempt=2)], st)  # a retry runs every item
    assert again.items == {} and again.item_jobs == {}
    done = WorkflowRun.fold([ev.StepSucceeded(step="Each", attempt=1, document={}, next=None)], st)
    assert done.items == {} and done.at_end
