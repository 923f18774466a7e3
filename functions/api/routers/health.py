from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from functions.api.deps import caller

router = APIGatewayRouter()


@router.get("/health", tags=["meta"], summary="Liveness")
def health() -> dict[str, Any]:
    from runtime.settings import get_settings

    return {"status": "ok", "backend": get_settings().backend}


@router.get("/me", tags=["meta"], summary="Who the API thinks you are")
def me() -> dict[str, Any]:
    return {"user_id": caller(router).user_id}
