"""How the client reaches the API: the endpoint (``TLM_ENDPOINT``, else the local server on
``TLM_HOST``/``TLM_PORT`` where ``tlm serve`` listens), the error type every call raises, and a
transport that turns "nothing answers there" into one ``Unreachable`` error with the fix."""

from __future__ import annotations

import os
from typing import Any

import httpx


class ApiError(Exception):
    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(f"{status} {body.get('error')}: {body.get('message')} (field: {body.get('field')})")
        self.status = status
        self.body = body
        self.field = body.get("field")


class Unreachable(ApiError):
    """No API answers at the endpoint (nothing listening, DNS, timeout): status 0."""

    def __init__(self, endpoint: str, cause: Exception) -> None:
        why = "connection refused" if isinstance(cause, httpx.ConnectError) else type(cause).__name__
        super().__init__(
            0,
            {
                "error": "unreachable",
                "message": f"cannot reach the TLM API at {endpoint} ({why}); start it with `tlm serve` "
                "(port TLM_PORT, default 8765) or set --endpoint / TLM_ENDPOINT",
                "field": "endpoint",
            },
        )


class Transport(httpx.HTTPTransport):
    """Turns "nothing answers there" into ``Unreachable`` (an ApiError the CLI reports in one line)."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return super().handle_request(request)
        except (httpx.ConnectError, httpx.ConnectTimeout) as e:
            raise Unreachable(f"{request.url.scheme}://{request.url.netloc.decode()}", e) from None


def default_endpoint() -> str:
    """``TLM_ENDPOINT``, else the local server where ``tlm serve`` listens (``TLM_HOST``/``TLM_PORT``)."""
    if endpoint := os.environ.get("TLM_ENDPOINT"):
        return endpoint
    host = os.environ.get("TLM_HOST") or "127.0.0.1"
    if host in ("0.0.0.0", "::", "[::]"):  # noqa: S104 - bound on every interface: talk to it locally
        host = "127.0.0.1"
    return f"http://{host}:{os.environ.get('TLM_PORT') or 8765}"
