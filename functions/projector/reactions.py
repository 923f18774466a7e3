"""Reactions Lambda: DynamoDB Streams (events table, the projector's filter: INSERTs of event
items) -> ``runtime.reactions`` (start a requested run, record a run's end on its owner).

Same subscription machinery as the projector: powertools ``BatchProcessor`` with partial batch
failures, records decoded by ``functions.projector.handler.decode_record``, and a failed record
blocks the later records of its stream in the batch (they are reported too, so a retry keeps the
stream's order). Each reaction tracks, per stream, the last version it handled
(``runtime.reactions.streams``): a redelivered record is a no-op. Built through
``runtime.bootstrap`` on first use, never at import time.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

from functions.projector.handler import decode_record
from runtime.reactions.streams import react

logger = Logger(service="tlm-reactions")
processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from domain.catalog import load_all
    from runtime.bootstrap import get_container

    load_all()  # every event type the log can hold: none of them may look like poison
    container = get_container()
    store: Any = container.store
    reactions = container.reactions.all()
    failed_streams: set[str] = set()

    def record_handler(record: DynamoDBRecord) -> list[str]:
        recorded = decode_record(record, store.load_payload, failed_streams)
        if recorded is None:
            return []
        try:
            return react(container.views, reactions, recorded)  # type: ignore[arg-type]
        except Exception:
            failed_streams.add(recorded.stream_id)
            raise

    response = process_partial_response(event=event, record_handler=record_handler, processor=processor,
                                        context=context)  # fmt: skip
    failures = response.get("batchItemFailures", [])
    if failures:
        logger.warning("reactions: records failed", extra={"failed": len(failures)})
    return dict(response)


handler = lambda_handler
