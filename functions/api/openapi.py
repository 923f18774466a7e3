"""What the OpenAPI document says each route answers, decided in one place.

Every route gets its success code (the decorator's ``status_code``) with its typed read model
where one is declared in ``functions.api.read_models.RESPONSES`` (also on any other 2xx the route
declares without a body of its own, e.g. a 202), and the error codes it can
really return, each with the one error body ``{"error", "message", "field"}``:

- 401 on every route but the public ones (``/health``, the documents);
- 403 and 404 where the route names something (a path parameter, a ``*_id`` query or body field);
- 422 everywhere (invalid input; the resolver's validation declares it on every route anyway);
- 400 (malformed JSON), 413 (too large) and 415 (not JSON) where it takes a body;
- 409 on writes (a conflicting state, a concurrent writer, an ``Idempotency-Key`` in use);
- 503 on routes that start or read workflows and jobs (an unconfigured backend on AWS).

A route may declare more itself (its decorator's ``responses``); those are kept.
"""

from __future__ import annotations

import inspect
import typing
from typing import Any

from pydantic import BaseModel, Field

PUBLIC = {"/health"}
WORKFLOW_TAGS = {"compiles", "trainings", "runs", "jobs", "arch"}
WORKFLOW_PATHS = {
    "/projects/<project_id>/datasets/demo-sentiment",
    "/projects/<project_id>/datasets/imports/<job_name>",
}
_WRITES = {"POST", "PUT", "PATCH", "DELETE"}
_WHY = {
    400: "Malformed JSON",
    401: "Missing or invalid bearer token",
    403: "Not allowed for the caller's role",
    404: "No such resource (or not visible to the caller)",
    409: "Conflicts with the current state, a concurrent write, or an Idempotency-Key in use",
    413: "Request body too large",
    415: "Request body is not application/json",
    422: "Invalid input; `field` names it",
    503: "The workflow or job backend is not configured",
}


class FieldError(BaseModel):
    field: str
    message: str


class ErrorBody(BaseModel):
    """Every error the API answers."""

    error: str = Field(description="a machine-readable code, e.g. invalid, not_found, conflict")
    message: str
    field: str | None = Field(description="the offending field, header or parameter")
    details: list[FieldError] | None = None


def _inputs(route: Any) -> tuple[bool, bool, bool]:
    """(takes input, names something, has a body) for a route's handler."""
    hints = typing.get_type_hints(route.func)
    params = [n for n in inspect.signature(route.func).parameters]
    body = hints.get("body")
    models = [a for a in typing.get_args(body) or (body,) if isinstance(a, type) and issubclass(a, BaseModel)]
    fields = [f for m in models for f in m.model_fields]
    names = "<" in route.path or any(n.endswith(("_id", "_ids")) for n in (*params, *fields))
    return bool(params), names, bool(models)


def declare(app: Any, read_models: dict[tuple[str, str], type[BaseModel]] | None = None) -> None:
    """Set ``responses`` on every route of ``app`` (before any request or document builds them)."""
    read_models = read_models or {}
    for route in (*app._static_routes, *app._dynamic_routes):
        declared: dict[int, Any] = dict(route.responses or {})
        ok = int(route.status_code or 200)
        model = read_models.get((route.method, route.path))
        declared.setdefault(ok, {"description": "Success"})
        for code, spec in declared.items():  # the success code and other 2xx a route declares itself
            if 200 <= int(code) < 300 and model is not None and "content" not in spec:
                declared[code] = {**spec, "content": {"application/json": {"model": model}}}
        codes: set[int] = set()
        _, names, has_body = _inputs(route)
        if route.path in PUBLIC:
            route.security = [{}]  # no credentials needed
        else:
            codes.add(401)
        if names:
            codes |= {403, 404}
        codes.add(422)  # the resolver declares (and may answer) 422 on every route; in our error shape
        if has_body:
            codes |= {400, 413, 415}
        if route.method in _WRITES:
            codes |= {409, 422}
        if set(route.tags) & WORKFLOW_TAGS or route.path in WORKFLOW_PATHS:
            codes.add(503)
        for code in sorted(codes):
            declared.setdefault(
                code, {"description": _WHY[code], "content": {"application/json": {"model": ErrorBody}}}
            )
        route.responses = declared
