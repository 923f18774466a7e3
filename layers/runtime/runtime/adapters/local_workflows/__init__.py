"""The local workflow runner: executes ``domain.workflows`` definitions in-process."""

from runtime.adapters.local_workflows.runner import LocalWorkflowRunner, StepFunction

__all__ = ["LocalWorkflowRunner", "StepFunction"]
