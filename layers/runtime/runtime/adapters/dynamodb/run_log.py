"""Appending to a run's stream on DynamoDB the way the state machine does (``runtime.workflows.asl``
RecordTask): the next versions come from the stream's sequence item (``seq#workflowrun-<id>``,
kind ``sequence``, an atomic ``ADD``), then the event items and the idempotency items go in one
``TransactWriteItems`` (each ``attribute_not_exists``). Several writers of one run stream (the
failure tail inside the execution, the execution-status Lambda) thus never take the same version.

A redelivery is answered before a version is taken (its idempotency key exists). Two copies racing
past that check both take versions, one transaction wins and the other's numbers stay unused: a
gap in a ``workflowrun-`` stream, which only these sequence writers append to on AWS (readers and
the projector's per-stream guards take gaps in their stride).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from domain.records import AppendResult, NewEvent, RecordedEvent
from runtime.adapters.dynamodb import codec, keys
from runtime.adapters.dynamodb.event_store import DynamoDbEventStore
from runtime.workflows.asl_tasks import KIND_SEQUENCE, SEQUENCE_PREFIX

_TAKEN = ("TransactionCanceledException", "ConditionalCheckFailedException")


class SequencedRunLog:
    def __init__(self, store: DynamoDbEventStore) -> None:
        self.store = store
        self.dynamodb = store.dynamodb
        self.table = store.table

    def read(self, stream_id: str) -> list[RecordedEvent]:
        return self.store.read(stream_id)

    def _next_versions(self, stream_id: str, count: int) -> int:
        """Reserve ``count`` versions; returns the last one."""
        out = self.dynamodb.update_item(
            TableName=self.table,
            Key={keys.EVENTS_PK: {"S": SEQUENCE_PREFIX + stream_id}, keys.EVENTS_SK: {"N": "0"}},
            UpdateExpression="ADD #seq :n SET #kind = :kind",
            ExpressionAttributeNames={"#seq": "seq", "#kind": keys.KIND},
            ExpressionAttributeValues={":n": {"N": str(count)}, ":kind": {"S": KIND_SEQUENCE}},
            ReturnValues="UPDATED_NEW",
        )
        return int(out["Attributes"]["seq"]["N"])

    def append_next(self, stream_id: str, events: Sequence[NewEvent], idempotency_keys: Sequence[str]) -> bool:
        if not events:
            return True
        if any(self.store.idempotent_result(k) is not None for k in idempotency_keys):
            return False
        last = self._next_versions(stream_id, len(events))
        first = last - len(events) + 1
        now = datetime.now(UTC)
        result = AppendResult(stream_id=stream_id, first_version=first, last_version=last)
        absent = {
            "ConditionExpression": "attribute_not_exists(#pk)",
            "ExpressionAttributeNames": {"#pk": keys.EVENTS_PK},
        }
        items: list[dict[str, Any]] = [
            codec.event_item(stream_id, first + i, e, now, data=codec.encode_data(e)) for i, e in enumerate(events)
        ]
        items += [codec.idempotency_item(k, result, now) for k in idempotency_keys]
        try:
            self.dynamodb.transact_write_items(
                TransactItems=[{"Put": {"TableName": self.table, "Item": it, **absent}} for it in items]
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in _TAKEN:
                return False  # a racing copy of this status change won
            raise
        return True
