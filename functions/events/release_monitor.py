"""EventBridge schedule -> one sample of every live deployment (``ReleaseMonitor.watch``, what the
local server runs every 30 s): metrics and health of each serving slot recorded in
``deploymentmetrics-<id>``, a slot that went unhealthy recorded on its deployment. The rule is in
``infra/stacks/serving.py`` (every ``tlm:release-monitor-minutes`` minutes). Thin: a failure raises
(the next tick samples again)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from runtime.observability import logger, tracer


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    from runtime.bootstrap import get_container

    sampled = get_container().release_monitor.watch()
    logger.info("release monitor", extra={"deployments": sampled, "time": event.get("time")})
    return {"deployments": sampled}
