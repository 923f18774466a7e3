"""Lambda entry point of the API (API Gateway REST proxy). The local server calls the same
``handler`` with the same event shape.

Writes honour an ``Idempotency-Key`` header (powertools idempotency): the same key from the
same user for the same method+path+body replays the first response; the same key with a
different request is a 422 naming the header; a request still running with that key is a 409.
"""

from __future__ import annotations

import json
import threading
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from domain.errors import DomainError
from functions.api.app import app
from functions.api.guard import check_body
from runtime.observability import logger, tracer

_WRITES = {"POST", "PUT", "PATCH", "DELETE"}
_context: Any = None
_idempotency: dict[str, Any] | None = None
_idempotency_lock = threading.Lock()


def _idempotency_parts() -> dict[str, Any]:
    """The idempotent call, its config and the two errors, built on the first keyed write:
    powertools' idempotency package imports boto3 (its DynamoDB layer) when imported, ~0.1 s
    of cold start that reads and unkeyed writes never need."""
    global _idempotency
    if _idempotency is None:
        with _idempotency_lock:
            if _idempotency is None:
                from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function
                from aws_lambda_powertools.utilities.idempotency.exceptions import (
                    IdempotencyAlreadyInProgressError,
                    IdempotencyValidationError,
                )

                from runtime.adapters.lazy_idempotency import LazyPersistenceLayer

                config = IdempotencyConfig(
                    event_key_jmespath="[user, method, path, key]",
                    # same key + same route but another body or query string -> 422
                    payload_validation_jmespath="[body, query]",
                    expires_after_seconds=24 * 3600,
                    raise_on_no_idempotency_key=False,
                )

                @idempotent_function(
                    data_keyword_argument="request", persistence_store=LazyPersistenceLayer(), config=config
                )
                def call(*, request: dict[str, Any], event: dict[str, Any]) -> dict[str, Any]:
                    response: dict[str, Any] = app.resolve(event, _context)
                    if int(response.get("statusCode", 500)) >= 400:
                        raise _NotRemembered(response)  # powertools then deletes the record
                    return response

                _idempotency = {
                    "config": config,
                    "call": call,
                    "in_progress": IdempotencyAlreadyInProgressError,
                    "reused": IdempotencyValidationError,
                }
    return _idempotency


class _NotRemembered(Exception):  # noqa: N818 - a carrier, not an error
    """A failed answer is not replayed: the client may fix the cause and retry with the same key."""

    def __init__(self, response: dict[str, Any]) -> None:
        super().__init__(response.get("statusCode"))
        self.response = response


def _error(status: int, code: str, message: str, field: str | None = "Idempotency-Key") -> dict[str, Any]:
    body = {"error": code, "message": message, "field": field}
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(body, ensure_ascii=False),
    }


# The resolver (and the logger's request keys) hold the current request on themselves: a Lambda
# instance serves one request at a time, and so does this handler when the local server calls it from
# its thread pool (two requests resolved at once read each other's event: the wrong user, or a 500).
_ONE_AT_A_TIME = threading.Lock()


def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    with _ONE_AT_A_TIME:
        return _handle(event, context)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
def _handle(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    global _context
    _context = context
    try:
        check_body(event)
    except DomainError as err:
        return _error(err.status, err.code, err.message, err.field)
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    key = headers.get("idempotency-key")
    if not key or event.get("httpMethod") not in _WRITES:
        return app.resolve(event, context)
    claims = ((event.get("requestContext") or {}).get("authorizer") or {}).get("claims") or {}
    request = {
        "user": claims.get("sub"),
        "method": event.get("httpMethod"),
        "path": event.get("path"),
        "query": event.get("queryStringParameters") or {},
        "key": key,
        "body": event.get("body") or "",
    }
    idem = _idempotency_parts()
    idem["config"].register_lambda_context(context)
    try:
        result: dict[str, Any] = idem["call"](request=request, event=event)
        return result
    except idem["reused"]:
        return _error(422, "idempotency_key_reused", "this Idempotency-Key was used for a different request")
    except _NotRemembered as failed:
        return failed.response
    except idem["in_progress"]:
        return _error(409, "idempotency_in_progress", "a request with this Idempotency-Key is still running")
