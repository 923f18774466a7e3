"""EventBridge -> the run's stream: one Step Functions execution status change (the rule in
``infra/stacks/projector.py`` matches ``aws.states`` / ``Step Functions Execution Status Change``
for TLM's state machines) becomes the run's start or end in ``workflowrun-<execution name>``
(``runtime.workflows.run_status``). Thin: parse nothing here, record, log the answer. A failure
raises, so Lambda's asynchronous retries (then the rule target's dead-letter queue) take it; a
redelivered event is answered ``duplicate`` and changes nothing.

An execution that ends ABORTED, TIMED_OUT or FAILED may not have reached the release state of a
job step: the job slots it still holds are freed (``runtime.services.job_slots``; idempotent, so a
redelivery, or a run whose Catch path released already, frees nothing more)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from runtime.observability import logger, tracer

RELEASE_ON = ("ABORTED", "TIMED_OUT", "FAILED")  # ends that may skip a job step's release state


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    from runtime.bootstrap import get_container

    container = get_container()
    result = container.run_status.record(event)
    detail = event.get("detail") or {}
    freed: list[str] = []
    if result != "ignored" and detail.get("status") in RELEASE_ON:
        freed = container.job_slots.release_run(detail["name"], reason=f"the execution ended {detail['status']}")
    logger.info("execution status", extra={"run_id": detail.get("name"), "status": detail.get("status"),
                                           "result": result, "job_slots_freed": freed})  # fmt: skip
    return {"result": result, **({"job_slots_freed": freed} if freed else {})}
