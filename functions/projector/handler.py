"""Projector Lambda: DynamoDB Streams (events table, NEW_IMAGE) -> views table.

- Only INSERT records of event items (``kind == "event"``) count; MODIFY/REMOVE records and
  idempotency-key items are ignored.
- Each event is decoded (``codec``; offloaded payloads come from S3) and checked against the
  event registry, then applied to every registered projection with per-row, per-stream version
  guards (``DynamoDbViewStore``), so redelivered records are no-ops.
- A record that fails (undecodable, unknown event type, a projection error) is reported in
  ``batchItemFailures``; the other streams' records in the batch still apply. Later records of
  the *same* stream in the batch are reported too instead of applied: otherwise a newer version
  would land first and the retried older one would become a no-op (lost). Lambda retries from
  the lowest failed sequence number, and what was already applied is skipped by the guards.

Dependencies are built on first use through ``runtime.bootstrap`` (TLM_ env), never at import
time. ``functions.projector.reactions`` (the reactions Lambda) reads the same stream records
through ``decode_record``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import (
    DynamoDBRecord,
    DynamoDBRecordEventName,
)

from domain.projection import Projection
from domain.records import RecordedEvent
from runtime import projections as registry
from runtime.adapters.dynamodb import codec, keys
from runtime.projector import ViewTarget, apply_event

logger = Logger(service="tlm-projector")
processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


class PoisonRecord(ValueError):
    """A stream record that cannot be projected as it is."""


class BlockedBehindFailure(RuntimeError):
    """An earlier record of the same stream failed in this batch; retry this one after it."""


@dataclass
class Dependencies:
    views: ViewTarget
    projections: Sequence[Projection]
    load_payload: Callable[[str], bytes]


_deps: Dependencies | None = None


def use(deps: Dependencies | None) -> None:
    """Install dependencies (tests, another composition root); None = build from settings."""
    global _deps
    _deps = deps


def dependencies() -> Dependencies:
    global _deps
    if _deps is None:
        from domain.catalog import load_all

        load_all()  # every event type the log can hold: none of them may look like poison
        _deps = _from_settings()
    return _deps


def _from_settings() -> Dependencies:
    from runtime.bootstrap import build_aws, get_container
    from runtime.settings import get_settings

    container = get_container()  # the composition root's (one per Lambda container)
    if container.settings.backend != "aws":  # a stream consumer is AWS whatever TLM_BACKEND says
        container = build_aws(get_settings())
    store: Any = container.store  # DynamoDbEventStore: offloaded payloads, sha256-checked
    return Dependencies(container.views, registry.all(), store.load_payload)  # type: ignore[arg-type]


def decode_record(
    record: DynamoDBRecord, load_payload: Callable[[str], bytes], failed_streams: set[str]
) -> RecordedEvent | None:
    """The event an INSERT record carries (None for anything else: MODIFY/REMOVE, idempotency
    and sequence items). Raises PoisonRecord for an event item that cannot be decoded, and
    BlockedBehindFailure when an earlier record of its stream failed in this batch."""
    if record.event_name != DynamoDBRecordEventName.INSERT:
        return None
    image: dict[str, Any] = (record.raw_event.get("dynamodb") or {}).get("NewImage") or {}
    if not image:
        raise PoisonRecord("INSERT record without NewImage (stream view type must include NEW_IMAGE)")
    if image.get(keys.KIND, {}).get("S") != keys.KIND_EVENT:
        return None  # idempotency-key items and anything else that is not an event
    stream_id = image.get(keys.EVENTS_PK, {}).get("S")
    if stream_id in failed_streams:
        raise BlockedBehindFailure(f"an earlier record of {stream_id} failed in this batch")
    try:
        event = codec.record_from_item(codec.from_attribute_values(image), load_payload)
        event.event()  # known type, valid data: else the record is poison
    except Exception as exc:
        if stream_id:
            failed_streams.add(stream_id)
        raise PoisonRecord(f"cannot decode event item of {stream_id}: {exc}") from exc
    return event


def project_record(record: DynamoDBRecord, deps: Dependencies, failed_streams: set[str]) -> int:
    """Apply one stream record; returns view rows written (0: ignored or duplicate)."""
    event = decode_record(record, deps.load_payload, failed_streams)
    if event is None:
        return 0
    try:
        return apply_event(deps.views, deps.projections, event)
    except Exception:
        failed_streams.add(event.stream_id)
        raise


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    deps = dependencies()
    failed_streams: set[str] = set()

    def record_handler(record: DynamoDBRecord) -> int:
        return project_record(record, deps, failed_streams)

    response = process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
    failures = response.get("batchItemFailures", [])
    if failures:
        logger.warning("projector: records failed", extra={"failed": len(failures)})
    return dict(response)


# the name every TLM function exposes (CDK points at <module>.handler)
handler = lambda_handler
