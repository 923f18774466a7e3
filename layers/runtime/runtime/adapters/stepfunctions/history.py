"""An execution's description and history -> the run summary the local runner's runs have
(``runtime.workflows.service.summarize``): status, timing, error, output and per-step attempts.

Steps are the workflow definition's states (``Validate``, ``Compile``...). The rendering adds
internal states named ``<step>: <part>`` (a job's create/wait/describe loop inside a Parallel, a
record task's sequence and put): their events belong to their step. Like the local runner, Pass
and Choice states are instantaneous steps, Succeed and Fail are not steps.

- An attempt starts when its state is entered; a retry starts a new attempt: a job step's next
  ``<step>: name`` (a new job), or a task scheduled again after it failed.
- An attempt ends when the next step is entered or the execution ends; its end time is its last
  state exit. It failed when a failure was seen after its last own exit (TaskFailed,
  LambdaFunctionFailed..., a job's ``<step>: failed`` / ``<step>: stopped``, a ParallelStateFailed
  before the Parallel's exit) or when it never exited (a caught error: the catch target's input
  holds ``{"Error", "Cause"}``).
- Job names come from the ``createTrainingJob`` / ``createProcessingJob`` task parameters.
- An aborted execution leaves its open attempt ``cancelled``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from domain.workflows import model as m

STATUS = {
    "RUNNING": "running",
    "SUCCEEDED": "succeeded",
    "FAILED": "failed",
    "TIMED_OUT": "failed",
    "ABORTED": "cancelled",
    "PENDING_REDRIVE": "failed",
}
_STEP_FAILURES = {
    "TaskFailed": "taskFailedEventDetails",
    "TaskTimedOut": "taskTimedOutEventDetails",
    "TaskStartFailed": "taskStartFailedEventDetails",
    "TaskSubmitFailed": "taskSubmitFailedEventDetails",
    "LambdaFunctionFailed": "lambdaFunctionFailedEventDetails",
    "LambdaFunctionTimedOut": "lambdaFunctionTimedOutEventDetails",
    "LambdaFunctionStartFailed": "lambdaFunctionStartFailedEventDetails",
    "LambdaFunctionScheduleFailed": "lambdaFunctionScheduleFailedEventDetails",
    "MapRunFailed": "mapRunFailedEventDetails",
}
_RUN_ENDS = {
    "ExecutionFailed": ("executionFailedEventDetails", "failed"),
    "ExecutionTimedOut": ("executionTimedOutEventDetails", "failed"),
    "ExecutionAborted": ("executionAbortedEventDetails", "cancelled"),
}
_SCHEDULED = ("TaskScheduled", "LambdaFunctionScheduled")
_JOB_CREATES = {"createTrainingJob": "TrainingJobName", "createProcessingJob": "ProcessingJobName"}
_INSTANT = ("Pass", "Choice")


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    return None if start is None or end is None else round((end - start).total_seconds(), 3)


def loads(text: Any) -> Any:
    if not isinstance(text, str):
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def _details(event: Mapping[str, Any], key: str) -> tuple[str, str]:
    d = event.get(key) or {}
    return str(d.get("error") or ""), str(d.get("cause") or "")


def _job_name(event: Mapping[str, Any]) -> str | None:
    d = event.get("taskScheduledEventDetails") or {}
    resource = str(d.get("resource", "")).removesuffix(".sync").removesuffix(".waitForTaskToken")
    field = _JOB_CREATES.get(resource)
    params = loads(d.get("parameters")) if field else None
    return params.get(field) if isinstance(params, dict) else None


def _nested_failure(name: str, input_text: Any) -> tuple[str, str] | None:
    """The error a job branch's Fail state raises (see ``runtime.workflows.asl``)."""
    if name.endswith(": failed"):
        doc = loads(input_text)
        why = ((doc or {}).get("__job") or {}).get("why") or {} if isinstance(doc, dict) else {}
        return m.JOB_FAILED, str(why.get("reason") or "the job failed")
    if name.endswith(": stopped"):
        return m.JOB_STOPPED, "the job was stopped"
    return None


class _Steps:
    def __init__(self, names: Iterable[str]) -> None:
        self.names = set(names)
        self.steps: list[dict[str, Any]] = []
        self.open: dict[str, Any] | None = None

    def owner(self, state: str) -> str | None:
        if state in self.names:
            return state
        head = state.split(": ", 1)[0]
        return head if head in self.names and head != state else None

    def begin(self, step: str, attempt: int, at: datetime, *, instant: bool = False) -> None:
        self.open = {
            "step": step,
            "attempt": attempt,
            "status": "running",
            "started_at": at,
            "ended_at": None,
            "resumed": False,
            "job": None,
            "error": None,
            "_last_exit": None,
            "_exited": False,
            "_pending": None,
            "_instant": instant,
            "_state_failed": False,
        }
        self.steps.append(self.open)

    def close(self, at: datetime, *, status: str | None = None, error: tuple[str, str] | None = None) -> None:
        s = self.open
        if s is None:
            return
        self.open = None
        failure = s["_pending"] or (error if status is not None or not s["_exited"] else None)
        if status is None:
            status = "failed" if failure or not s["_exited"] else "succeeded"
        if status == "failed" and failure is None:
            failure = ("States.Runtime", "the step ended without leaving its state")
        s["status"] = status
        s["ended_at"] = s["_last_exit"] or at if status != "cancelled" else at
        s["error"] = {"error": failure[0], "cause": failure[1]} if status == "failed" and failure else None

    def retry(self, at: datetime) -> None:
        s = self.open
        assert s is not None
        self.close(at, status="failed", error=(m.JOB_FAILED, "the attempt failed"))
        self.begin(s["step"], s["attempt"] + 1, at)


def summarize(describe: Mapping[str, Any], events: Iterable[Mapping[str, Any]], *, workflow: str,
              step_names: Iterable[str]) -> dict[str, Any]:  # fmt: skip
    """The run summary of one execution (``events`` in history order, oldest first)."""
    st = _Steps(step_names)
    run_error: tuple[str, str] | None = None
    for e in events:
        t, at = str(e["type"]), e["timestamp"]
        if t.endswith("StateEntered"):
            d = e.get("stateEnteredEventDetails") or {}
            name = str(d.get("name", ""))
            owner = st.owner(name)
            if owner is None:
                continue
            if name == owner:
                if st.open is not None:
                    caught = loads(d.get("input"))
                    err = caught.get("error") if isinstance(caught, dict) else None
                    error = (str(err.get("Error", "")), str(err.get("Cause", ""))) if isinstance(err, dict) else None
                    st.close(at, error=error)
                kind = t[: -len("StateEntered")]
                if kind not in ("Succeed", "Fail"):
                    st.begin(owner, 1, at, instant=kind in _INSTANT)
            elif st.open is not None and st.open["step"] == owner:
                if name == f"{owner}: name" and st.open["job"] is not None:
                    st.retry(at)
                if t == "FailStateEntered":
                    st.open["_pending"] = _nested_failure(name, d.get("input"))
        elif t.endswith("StateExited"):
            name = str((e.get("stateExitedEventDetails") or {}).get("name", ""))
            s = st.open
            if s is not None and st.owner(name) == s["step"]:
                s["_last_exit"] = at
                if name == s["step"] and not s["_state_failed"]:
                    s["_exited"], s["_pending"] = True, None
        elif t in _SCHEDULED:
            if st.open is not None and st.open["_pending"] is not None:
                st.retry(at)
            if st.open is not None and (job := _job_name(e)):
                st.open["job"] = job
        elif t in ("ParallelStateFailed", "MapStateFailed"):  # its exit that follows is no success
            if st.open is not None:
                st.open["_state_failed"] = True
                st.open["_pending"] = st.open["_pending"] or ("States.BranchFailed", "a branch failed")
        elif t in _STEP_FAILURES:
            if st.open is not None:
                st.open["_pending"] = _details(e, _STEP_FAILURES[t])
        elif t == "ExecutionSucceeded":
            st.close(at)
        elif t in _RUN_ENDS:
            key, status = _RUN_ENDS[t]
            run_error = _details(e, key)
            st.close(at, status=status, error=run_error if status == "failed" else None)
    for s in st.steps:
        for k in ("_last_exit", "_exited", "_pending", "_instant", "_state_failed"):
            s.pop(k, None)
        s["duration_s"] = _seconds(s["started_at"], s["ended_at"])
    status = STATUS.get(str(describe.get("status")), "running")
    started, ended = describe.get("startDate"), describe.get("stopDate")
    run_err = describe.get("error") or (run_error[0] if run_error else None)
    cause = describe.get("cause") or (run_error[1] if run_error else None)
    output = loads(describe.get("output"))
    return {
        "run_id": describe.get("name") or str(describe.get("executionArn", "")).rsplit(":", 1)[-1],
        "workflow": workflow,
        "status": status,
        "started_at": started,
        "ended_at": ended if status != "running" else None,
        "duration_s": _seconds(started, ended) if status != "running" else None,
        "current_step": st.open["step"] if st.open is not None and status == "running" else None,
        "error": run_err or None,
        "cause": cause or None,
        "output": output,
        "steps": st.steps,
    }
