"""What every route needs: the caller (from the authorizer context) and the services."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from domain.errors import Unauthorized

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler import APIGatewayRestResolver

    from runtime.bootstrap import Container
    from runtime.services.commands import Caller


def caller(app: APIGatewayRestResolver) -> Caller:
    """The authenticated user. On AWS API Gateway's Cognito authorizer puts the JWT claims in
    requestContext.authorizer.claims; the local server puts the API token's user there."""
    from runtime.services.commands import Caller

    ctx: dict[str, Any] = app.current_event.raw_event.get("requestContext") or {}
    claims = (ctx.get("authorizer") or {}).get("claims") or {}
    user = claims.get("sub")
    if not user:
        raise Unauthorized("missing or invalid credentials", field="Authorization")
    request_id = ctx.get("requestId")
    reason = app.current_event.headers.get("x-tlm-reason") or app.current_event.headers.get("X-Tlm-Reason")
    return Caller(user_id=str(user), correlation_id=request_id or Caller(user_id="").correlation_id, reason=reason)


def container() -> Container:
    from runtime.bootstrap import get_container

    return get_container()
