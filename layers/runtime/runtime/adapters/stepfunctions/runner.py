"""Start, stop and describe workflow runs as Step Functions executions.

The interface is the local runner's (``runtime.adapters.local_workflows.runner``) as the services
use it: ``start(workflow, input, run_id=None) -> run_id`` (the run id is the execution name, so
starting the same run twice with the same input is idempotent, as StartExecution is),
``cancel(run_id, reason=...)`` (StopExecution; ``Conflict`` when the run already ended),
``state(run_id) -> RunState`` and ``resume_incomplete() -> []`` (Step Functions drives its
executions itself; nothing to resume after an API restart).

Finding a run: an execution ARN needs its state machine, so a run id is tried on each workflow's
machine (a handful) and the answer cached. ``describe`` / ``history`` are the read side's calls.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Mapping
from typing import Any

from botocore.exceptions import ClientError

from domain.errors import Conflict, Invalid, NotFound
from domain.workflows import model as m
from domain.workflows.run import RunState
from runtime.adapters.stepfunctions import history as h
from runtime.adapters.stepfunctions.names import EXECUTION_NAME, check_run_id, execution_arn
from runtime.ports import RunInfo

CANCELLED_ERROR = "TLM.Cancelled"
_MISSING = ("ExecutionDoesNotExist", "StateMachineDoesNotExist", "InvalidArn", "ResourceNotFound")


def _code(err: ClientError) -> str:
    return str(err.response.get("Error", {}).get("Code", ""))


class StepFunctionsWorkflowRunner:
    def __init__(
        self,
        sfn_client: Any,
        state_machine_arns: Mapping[str, str],
        *,
        workflows: Mapping[str, m.Workflow] | None = None,
    ) -> None:
        """``workflows`` (the definitions, for their step names) defaults to the shipped ones."""
        if workflows is None:
            from runtime.workflows.definitions import all_workflows

            workflows = all_workflows()
        self.sfn = sfn_client
        self.machines = dict(state_machine_arns)
        self.workflows = dict(workflows)
        self._where: dict[str, str] = {}  # run id -> workflow (cache)

    # ------------------------------------------------------------------ write side

    def start(self, workflow: str, input: dict[str, Any], *, run_id: str | None = None) -> str:
        machine = self.machines.get(workflow)
        if machine is None:
            raise NotFound(f"no workflow {workflow!r}", field="workflow")
        run_id = check_run_id(run_id or uuid.uuid4().hex)
        try:
            self.sfn.start_execution(stateMachineArn=machine, name=run_id, input=json.dumps(input))
        except ClientError as err:
            if _code(err) == "ExecutionAlreadyExists":
                raise Conflict(f"run {run_id!r} already exists with another input", field="run_id") from err
            if _code(err) in ("InvalidName", "InvalidExecutionInput"):
                raise Invalid(str(err), field="run_id" if _code(err) == "InvalidName" else "input") from err
            raise
        self._where[run_id] = workflow
        return run_id

    def cancel(self, run_id: str, *, reason: str = "") -> RunState:
        workflow, desc = self.describe(run_id)
        if desc["status"] != "RUNNING":
            raise Conflict(f"run {run_id} is already {h.STATUS.get(desc['status'], desc['status'])}", field="status")
        try:
            self.sfn.stop_execution(
                executionArn=desc["executionArn"], error=CANCELLED_ERROR, cause=(reason or "cancelled")[:32768]
            )
        except ClientError as err:
            if _code(err) in _MISSING:
                raise NotFound(f"no workflow run {run_id!r}", field="run_id") from err
            raise
        return self.state(run_id)

    def resume_incomplete(self) -> list[str]:
        return []  # Step Functions keeps running its executions on its own

    def list_runs(self, workflow: str) -> list[RunInfo]:
        """ListExecutions of the workflow's machine (NotFound for a workflow not configured)."""
        if workflow not in self.machines:
            raise NotFound(f"no workflow {workflow!r}", field="workflow")
        return [
            RunInfo(run_id=e["name"], workflow=workflow, status=h.STATUS.get(e["status"], "running"))
            for e in self.executions(workflow, None)
        ]

    def state(self, run_id: str) -> RunState:
        run = self.summary(run_id)
        status = run["status"]
        open_job = run["steps"][-1]["job"] if status == "running" and run["steps"] else None
        return RunState(
            run_id=run["run_id"],
            workflow=run["workflow"],
            status=status,
            document=run.get("input"),
            current_step=run["current_step"],
            next_step=run["current_step"],
            job_name=open_job,
            output=run["output"],
            error=run["error"],
            cause=run["cause"],
        )

    # ------------------------------------------------------------------ reads

    def describe(self, run_id: str) -> tuple[str, dict[str, Any]]:
        """(workflow, DescribeExecution response) of run ``run_id``; NotFound if no machine has it."""
        if not EXECUTION_NAME.match(run_id or ""):
            raise NotFound(f"no workflow run {run_id!r}", field="run_id")
        known = self._where.get(run_id)
        order = ([known] if known else []) + [w for w in self.machines if w != known]
        for workflow in order:
            try:
                desc = self.sfn.describe_execution(executionArn=execution_arn(self.machines[workflow], run_id))
            except ClientError as err:
                if _code(err) in _MISSING:
                    continue
                raise
            self._where[run_id] = workflow
            return workflow, desc
        raise NotFound(f"no workflow run {run_id!r}", field="run_id")

    def history(self, execution: str, *, newest_first: bool = False, limit: int | None = None) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        token = None
        while True:
            kw: dict[str, Any] = {"executionArn": execution, "maxResults": min(limit or 1000, 1000),
                                  "reverseOrder": newest_first}  # fmt: skip
            if token:
                kw["nextToken"] = token
            page = self.sfn.get_execution_history(**kw)
            events += page.get("events", [])
            token = page.get("nextToken")
            if not token or (limit is not None and len(events) >= limit):
                return events

    def step_names(self, workflow: str) -> list[str]:
        defn = self.workflows.get(workflow)
        return [s.name for s in defn.states] if defn is not None else []

    def summary(self, run_id: str, *, steps: bool = True) -> dict[str, Any]:
        """The run in the local runner's shape (``runtime.workflows.service.summarize``), plus
        ``input`` (the execution input; callers drop it)."""
        workflow, desc = self.describe(run_id)
        return self.summarize(workflow, desc, steps=steps)

    def summarize(self, workflow: str, desc: Mapping[str, Any], *, steps: bool = True) -> dict[str, Any]:
        running = desc.get("status") == "RUNNING"
        if steps:
            events = self.history(desc["executionArn"])
        elif running:  # the current step only: the newest events are enough
            events = list(reversed(self.history(desc["executionArn"], newest_first=True, limit=100)))
        else:
            events = []
        run = h.summarize(desc, events, workflow=workflow, step_names=self.step_names(workflow))
        if not steps:
            run.pop("steps")
        run["input"] = h.loads(desc.get("input"))
        return run

    def executions(self, workflow: str, statuses: list[str] | None) -> Iterator[dict[str, Any]]:
        """ListExecutions of one workflow's machine (newest first), optionally by status."""
        for status in statuses or [None]:  # type: ignore[list-item]
            token = None
            while True:
                kw: dict[str, Any] = {"stateMachineArn": self.machines[workflow], "maxResults": 1000}
                if status:
                    kw["statusFilter"] = status
                if token:
                    kw["nextToken"] = token
                try:
                    page = self.sfn.list_executions(**kw)
                except ClientError as err:
                    if _code(err) in _MISSING:  # that workflow is not deployed: no runs
                        return
                    raise
                yield from page.get("executions", [])
                token = page.get("nextToken")
                if not token:
                    break
