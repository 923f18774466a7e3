"""The AWS read side of workflow runs: ``show_run`` / ``list_runs`` / ``cancel_run`` with the
local ``runtime.workflows.service.WorkflowService``'s output shape (so the API routes and the CLI
work unchanged), from DescribeExecution, GetExecutionHistory and ListExecutions.

Project authorization and listing live in ``runtime.services.runs.RunsService`` over the runs
view, on both backends.

Costs: ``show_run`` is one DescribeExecution (plus one per other workflow for an unknown run id)
and the history pages; ``list_runs`` is ListExecutions per workflow plus one DescribeExecution per
listed run (and the last 100 history events of a running one, for its current step).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from runtime.adapters.stepfunctions.history import loads
from runtime.adapters.stepfunctions.runner import StepFunctionsWorkflowRunner

# local statuses -> Step Functions statuses ("cancelling" does not exist there: a stop is at once)
SFN_STATUSES = {
    "running": ["RUNNING"],
    "succeeded": ["SUCCEEDED"],
    "failed": ["FAILED", "TIMED_OUT", "PENDING_REDRIVE"],
    "cancelled": ["ABORTED"],
}
_EPOCH = datetime.min.replace(tzinfo=UTC)


def _project(run_input: Any) -> str | None:
    project = run_input.get("project_id") if isinstance(run_input, dict) else None
    return str(project) if project else None


class StepFunctionsWorkflowService:
    def __init__(self, runner: StepFunctionsWorkflowRunner) -> None:
        self.runner = runner

    def show_run(self, run_id: str) -> dict[str, Any]:
        run = self.runner.summary(run_id)
        run.pop("input", None)
        return run

    def project_of(self, run_id: str) -> str | None:
        """The ``project_id`` of the run's input (None for a system run); NotFound if no run."""
        _, desc = self.runner.describe(run_id)
        return _project(loads(desc.get("input")))

    def iter_runs(self, *, workflow: str | None = None, status: str | None = None) -> Iterator[dict[str, Any]]:
        """Runs newest first without steps, each with its ``input`` (the caller drops it)."""
        if status is not None and status not in SFN_STATUSES:
            return
        listed: list[tuple[str, dict[str, Any]]] = []
        for wf in self.runner.machines:
            if workflow is None or wf == workflow:
                listed += [(wf, e) for e in self.runner.executions(wf, SFN_STATUSES.get(status or ""))]
        listed.sort(key=lambda we: we[1].get("startDate") or _EPOCH, reverse=True)
        for wf, e in listed:
            desc = self.runner.sfn.describe_execution(executionArn=e["executionArn"])
            yield self.runner.summarize(wf, desc, steps=False)

    def list_runs(self, *, workflow: str | None = None, status: str | None = None) -> list[dict[str, Any]]:
        """Newest first, without per-step details."""
        out = []
        for run in self.iter_runs(workflow=workflow, status=status):
            run.pop("input", None)
            out.append(run)
        return out

    def cancel_run(self, run_id: str, *, reason: str = "") -> dict[str, Any]:
        self.runner.cancel(run_id, reason=reason)
        return self.show_run(run_id)
