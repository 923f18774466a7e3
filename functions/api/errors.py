"""Errors -> HTTP, in one place. Every error body: {"error", "message", "field"}."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError

from domain.errors import DomainError


def _json(status: int, body: dict[str, Any]) -> Response:
    return Response(
        status_code=status, content_type=content_types.APPLICATION_JSON, body=json.dumps(body, ensure_ascii=False)
    )


def _field(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
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

    @app.not_found
    def not_found(_: Exception) -> Response:
        return _json(404, {"error": "not_found", "message": "no such route", "field": None})
