"""Lambda entry point of the API (API Gateway REST proxy). The local server calls the same
``handler`` with the same event shape.

Writes honour an ``Idempotency-Key`` header (powertools idempotency): the same key from the
same user for the same method+path+body replays the first response; the same key with a
different request is a 422 naming the header; a request still running with that key is a 409.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyValidationError,
)
from aws_lambda_powertools.utilities.typing import LambdaContext
from runtime.adapters.lazy_idempotency import LazyPersistenceLayer
from runtime.observability import logger, tracer

from functions.api.app import app

_WRITES = {"POST", "PUT", "PATCH", "DELETE"}
_persistence = LazyPersistenceLayer()
_config = IdempotencyConfig(
    event_key_jmespath="[user, method, path, key]",
    payload_validation_jmespath="body",
    expires_after_seconds=24 * 3600,
    raise_on_no_idempotency_key=False,
)


@idempotent_function(data_keyword_argument="request", persistence_store=_persistence, config=_config)
def _idempotent_call(*, request: dict[str, Any], event: dict[str, Any]) -> dict[str, Any]:
    return app.resolve(event, _context)


_context: Any = None


def _error(status: int, code: str, message: str) -> dict[str, Any]:
    body = {"error": code, "message": message, "field": "Idempotency-Key"}
    return {"statusCode": status, "headers": {"Content-Type": "application/json"}, "body": json.dumps(body)}


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    global _context
    _context = context
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    key = headers.get("idempotency-key")
    if not key or event.get("httpMethod") not in _WRITES:
        return app.resolve(event, context)
    claims = ((event.get("requestContext") or {}).get("authorizer") or {}).get("claims") or {}
    request = {
        "user": claims.get("sub"),
        "method": event.get("httpMethod"),
        "path": event.get("path"),
        "key": key,
        "body": event.get("body") or "",
    }
    _config.register_lambda_context(context)
    try:
        return _idempotent_call(request=request, event=event)
    except IdempotencyValidationError:
        return _error(422, "idempotency_key_reused", "this Idempotency-Key was used for a different request")
    except IdempotencyAlreadyInProgressError:
        return _error(409, "idempotency_in_progress", "a request with this Idempotency-Key is still running")
