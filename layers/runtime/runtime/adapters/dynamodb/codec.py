"""Event <-> DynamoDB item, shared by the event store (writes, reads) and the projector (stream
NEW_IMAGE records). Item attributes:

  stream_id S (pk) | version N (sk) | kind S = "event" | type S | schema_version N
  | data S (JSON) or data_ref S (S3 key of an offloaded payload, sha256-addressed)
  | metadata S (JSON) | recorded_at S (ISO 8601, UTC, microseconds)

Idempotency items live in the same table (so that key and events commit in one transaction):

  stream_id S = "idem#<key>" (pk) | version N = 0 (sk) | kind S = "idempotency"
  | target_stream_id S | first_version N | last_version N | recorded_at S

(``target_stream_id``: the pk attribute is itself named ``stream_id``.)
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from boto3.dynamodb.types import TypeDeserializer

from domain.events import EventMetadata
from domain.records import AppendResult, NewEvent, RecordedEvent
from runtime.adapters.dynamodb import keys

_deserializer = TypeDeserializer()


def from_attribute_values(image: dict[str, Any]) -> dict[str, Any]:
    """Low-level AttributeValue map (as in a DynamoDB Streams record) -> plain item."""
    return {k: _deserializer.deserialize(v) for k, v in image.items()}


def record_from_item(item: dict[str, Any], load_payload: Callable[[str], bytes]) -> RecordedEvent:
    """Plain item (resource-style, numbers as Decimal) -> RecordedEvent. ``load_payload`` fetches
    an offloaded payload by its S3 key."""
    raw = load_payload(str(item["data_ref"])) if "data_ref" in item else str(item["data"])
    data = json.loads(raw)
    return RecordedEvent(
        stream_id=str(item[keys.EVENTS_PK]),
        version=int(item[keys.EVENTS_SK]),
        position=None,
        type=str(item["type"]),
        schema_version=int(item.get("schema_version", 1)),
        data=data,
        metadata=EventMetadata.model_validate_json(str(item["metadata"])),
        recorded_at=datetime.fromisoformat(str(item["recorded_at"])),
    )


def encode_data(event: NewEvent) -> bytes:
    """The payload bytes stored in ``data`` (or offloaded to S3 when too big)."""
    return json.dumps(event.data, ensure_ascii=False, separators=(",", ":")).encode()


def event_item(
    stream_id: str,
    version: int,
    event: NewEvent,
    recorded_at: datetime,
    *,
    data: bytes | None = None,
    data_ref: str | None = None,
) -> dict[str, Any]:
    """Low-level AttributeValue map of one event item: exactly one of ``data`` / ``data_ref``."""
    if (data is None) == (data_ref is None):
        raise ValueError("give exactly one of data / data_ref")
    item: dict[str, Any] = {
        keys.EVENTS_PK: {"S": stream_id},
        keys.EVENTS_SK: {"N": str(version)},
        keys.KIND: {"S": keys.KIND_EVENT},
        "type": {"S": event.type},
        "schema_version": {"N": str(event.schema_version)},
        "metadata": {"S": event.metadata.model_dump_json()},
        "recorded_at": {"S": recorded_at.isoformat(timespec="microseconds")},
    }
    if data_ref is not None:
        item["data_ref"] = {"S": data_ref}
    else:
        assert data is not None
        item["data"] = {"S": data.decode()}
    return item


def idempotency_pk(key: str) -> str:
    return keys.IDEMPOTENCY_PREFIX + key


def idempotency_item(key: str, result: AppendResult, recorded_at: datetime) -> dict[str, Any]:
    """Low-level AttributeValue map of an idempotency-key item."""
    return {
        keys.EVENTS_PK: {"S": idempotency_pk(key)},
        keys.EVENTS_SK: {"N": "0"},
        keys.KIND: {"S": keys.KIND_IDEMPOTENCY},
        "target_stream_id": {"S": result.stream_id},
        "first_version": {"N": str(result.first_version)},
        "last_version": {"N": str(result.last_version)},
        "recorded_at": {"S": recorded_at.isoformat(timespec="microseconds")},
    }


def result_from_idempotency_item(item: dict[str, Any]) -> AppendResult:
    """Plain idempotency item -> the first append's result, flagged duplicate."""
    return AppendResult(
        stream_id=str(item["target_stream_id"]),
        first_version=int(item["first_version"]),
        last_version=int(item["last_version"]),
        duplicate=True,
    )
