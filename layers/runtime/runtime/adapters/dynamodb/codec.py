"""Event <-> DynamoDB item, shared by the event store (writes, reads) and the projector (stream
NEW_IMAGE records). Item attributes:

  stream_id S (pk) | version N (sk) | kind S = "event" | type S | schema_version N
  | data S (JSON) or data_ref S (S3 key of an offloaded payload, sha256-addressed)
  | metadata S (JSON) | recorded_at S (ISO 8601, UTC)
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from boto3.dynamodb.types import TypeDeserializer

from domain.events import EventMetadata
from domain.records import RecordedEvent
from runtime.adapters.dynamodb import keys

_deserializer = TypeDeserializer()


def from_attribute_values(image: dict[str, Any]) -> dict[str, Any]:
    """Low-level AttributeValue map (as in a DynamoDB Streams record) -> plain item."""
    return {k: _deserializer.deserialize(v) for k, v in image.items()}


def record_from_item(item: dict[str, Any], load_payload: Callable[[str], bytes]) -> RecordedEvent:
    """Plain item (resource-style, numbers as Decimal) -> RecordedEvent. ``load_payload`` fetches
    an offloaded payload by its S3 key."""
    if "data_ref" in item:
        data = json.loads(load_payload(str(item["data_ref"])))
    else:
        data = json.loads(str(item["data"]))
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
