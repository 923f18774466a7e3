"""Errors -> HTTP, in one place. Every error body: {"error", "message", "field"}."""

from __future__ import annotations

import json
import logging
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)

from domain.errors import DomainError

log = logging.getLogger("tlm.api")


def _json(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=json.dumps(body, ensure_ascii=False),
        headers=headers,
    )


def _field(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header"):  # where, not which: a field may be "path"
        parts = parts[1:]
    return ".".join(parts) or "body"


def install(app: APIGatewayRestResolver) -> None:
    @app.exception_handler(DomainError)
    def domain_error(ex: DomainError) -> Response:
        return _json(ex.status, ex.to_dict())

    @app.exception_handler(RequestValidationError)
    def validation_error(ex: RequestValidationError) -> Response:
        errors = list(ex.errors())
        first = errors[0] if errors else {}
        kind = first.get("type", "")
        if kind == "json_invalid":
            return _json(400, {"error": "malformed_json", "message": "request body is not valid JSON", "field": "body"})
        field = _field(first.get("loc", ()))
        message = first.get("msg", "invalid request")
        details = [{"field": _field(e.get("loc", ())), "message": e.get("msg", "")} for e in errors]
        return _json(422, {"error": "invalid", "message": f"{field}: {message}", "field": field, "details": details})

    @app.exception_handler(RequestUnsupportedContentType)
    def unsupported_media(ex: RequestUnsupportedContentType) -> Response:
        return _json(
            415,
            {"error": "unsupported_media_type", "message": "request bodies are application/json",
             "field": "Content-Type"},
        )  # fmt: skip

    @app.exception_handler(RecursionError)
    def too_deep(_: RecursionError) -> Response:  # a backstop: guard.check_depth catches bodies first
        return _json(422, {"error": "invalid", "message": "input nested too deeply", "field": "body"})

    @app.exception_handler(Exception)
    def internal(ex: Exception) -> Response:  # never a stack trace (or a bare Lambda error) to the client
        log.exception("unhandled error in the API")
        return _json(500, {"error": "internal", "message": "internal error", "field": None})

    @app.not_found
    def not_found(_: Exception) -> Response:
        path = app.current_event.path
        allowed = sorted({r.method for r in (*app._static_routes, *app._dynamic_routes) if r.rule.match(path)})
        if allowed:
            if "GET" in allowed:
                allowed.append("HEAD")  # the local server answers HEAD from GET (API Gateway: per method)
            return _json(
                405,
                {"error": "method_not_allowed", "message": f"{app.current_event.http_method} is not allowed here; "
                 f"use {', '.join(allowed)}", "field": None},
                {"Allow": ", ".join(allowed)},
            )  # fmt: skip
        return _json(404, {"error": "not_found", "message": "no such route", "field": None})
