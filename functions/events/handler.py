"""EventBridge -> the run's stream: one Step Functions execution status change (the rule in
``infra/stacks/projector.py`` matches ``aws.states`` / ``Step Functions Execution Status Change``
for TLM's state machines) becomes the run's start or end in ``workflowrun-<execution name>``
(``runtime.workflows.run_status``). Thin: parse nothing here, record, log the answer. A failure
raises, so Lambda's asynchronous retries (then the rule target's dead-letter queue) take it; a
redelivered event is answered ``duplicate`` and changes nothing."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from runtime.observability import logger, tracer


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    from runtime.bootstrap import get_container

    result = get_container().run_status.record(event)
    detail = event.get("detail") or {}
    logger.info("execution status", extra={"run_id": detail.get("name"), "status": detail.get("status"),
                                           "result": result})  # fmt: skip
    return {"result": result}
