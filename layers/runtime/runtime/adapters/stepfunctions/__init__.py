"""Workflows on AWS: Step Functions executions started, shown, listed and cancelled for the API.

- ``names``: the deterministic state machine names and ARNs that infra (CDK) and the runtime share.
- ``runner.StepFunctionsWorkflowRunner``: ``start`` / ``cancel`` / ``state`` / ``resume_incomplete``,
  the interface the services use from the local runner (the run id is the execution name).
- ``history``: an execution's history -> per-step status and timing, in the local run shape.
- ``service.StepFunctionsWorkflowService``: ``show_run`` / ``list_runs`` / ``cancel_run`` like
  ``runtime.workflows.service.WorkflowService`` (project listing and authorization: the runs view,
  ``runtime.services.runs``).
"""
