"""The DynamoDB tables of TLM, created on moto from the runtime's key names (the same ones the
CDK storage stack uses). One place for every test that needs them."""

from __future__ import annotations

from typing import Any

from runtime.adapters.dynamodb import keys


def _create(client: Any, name: str, pk: str, sk: tuple[str, str] | None, **extra: Any) -> None:
    schema = [{"AttributeName": pk, "KeyType": "HASH"}]
    attrs = [{"AttributeName": pk, "AttributeType": "S"}]
    if sk is not None:
        schema.append({"AttributeName": sk[0], "KeyType": "RANGE"})
        attrs.append({"AttributeName": sk[0], "AttributeType": sk[1]})
    client.create_table(
        TableName=name, KeySchema=schema, AttributeDefinitions=attrs, BillingMode="PAY_PER_REQUEST", **extra
    )


def create_events_table(client: Any, name: str, *, stream: bool = True) -> None:
    """Events: pk stream id, sk version (number); a NEW_IMAGE stream feeds the projector."""
    extra = {"StreamSpecification": {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"}} if stream else {}
    _create(client, name, keys.EVENTS_PK, (keys.EVENTS_SK, "N"), **extra)


def create_views_table(client: Any, name: str) -> None:
    _create(client, name, keys.VIEWS_PK, (keys.VIEWS_SK, "S"))


def create_idempotency_table(client: Any, name: str) -> None:
    _create(client, name, keys.IDEMPOTENCY_TABLE_PK, None)
