"""DynamoDB event store (the AWS adapter). See DESIGN.md §4 and ``codec`` for the item format.

Partition key = stream id, sort key = version. Versions are gapless from 1 and items are never
deleted, so "the stream is at version v" is the same as "item v exists (or v = 0) and item v+1
does not". Appends rely on that:

- one event, no idempotency key: a consistent read that the stream has reached
  ``expected_version`` (GetItem of that version; if absent it is a conflict, so an
  ``expected_version`` ahead of the stream can never leave a gap), then
  ``PutItem`` of item ``expected+1`` with ``attribute_not_exists``: of two racing writers exactly
  one put succeeds;
- several events or an idempotency key: one ``TransactWriteItems`` with every event item guarded
  by ``attribute_not_exists``, a ``ConditionCheck`` that item ``expected`` exists (when
  expected > 0) and the idempotency item guarded by ``attribute_not_exists``. At most 100 items
  per transaction (DynamoDB's limit); more is ``Invalid(field="events")``.

``ConditionalCheckFailed`` / ``TransactionCanceled`` become one ``ConcurrencyConflict``, unless
the idempotency key turns out to be taken, in which case the first append's result comes back
with ``duplicate=True``. Payloads whose JSON is larger than ``offload_threshold`` bytes are put
to S3 under ``keys.PAYLOAD_PREFIX + sha256`` first; the item keeps ``data_ref``.

There is no global order on DynamoDB: ``read_all`` raises NotImplementedError; rebuilds use
``iter_all`` (a consistent, paginated Scan, grouped per stream, each in version order).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from domain.errors import ConcurrencyConflict, Invalid, TooLarge
from domain.records import AppendResult, NewEvent, RecordedEvent
from runtime.adapters.dynamodb import codec, keys

MAX_TRANSACTION_ITEMS = 100
MAX_TRANSACTION_BYTES = 4 * 1024 * 1024
MAX_ITEM_BYTES = 400 * 1024

_CONFLICT_CODES = {
    "ConditionalCheckFailedException",
    "TransactionCanceledException",
    "TransactionConflictException",
}


class DynamoDbEventStore:
    def __init__(
        self,
        dynamodb: Any,
        s3: Any,
        table_name: str,
        bucket_name: str,
        *,
        offload_threshold: int = 350_000,
    ) -> None:
        """``dynamodb`` and ``s3`` are boto3 *clients*; nothing is called until first use."""
        self.dynamodb = dynamodb
        self.s3 = s3
        self.table = table_name
        self.bucket = bucket_name
        self.offload_threshold = offload_threshold

    # ------------------------------------------------------------------ write

    def append(
        self,
        stream_id: str,
        events: Sequence[NewEvent],
        expected_version: int,
        *,
        idempotency_key: str | None = None,
    ) -> AppendResult:
        _check_stream_id(stream_id)
        if not events:
            raise Invalid("nothing to append", field="events")
        if expected_version < 0:
            raise Invalid("expected_version must be >= 0", field="expected_version")
        extra = (1 if expected_version > 0 else 0) + (1 if idempotency_key is not None else 0)
        if (len(events) > 1 or idempotency_key is not None) and len(events) + extra > MAX_TRANSACTION_ITEMS:
            raise Invalid(
                f"at most {MAX_TRANSACTION_ITEMS - extra} events per append here "
                f"(DynamoDB transactions hold {MAX_TRANSACTION_ITEMS} items)",
                field="events",
            )
        if idempotency_key is not None:
            first = self._idempotent_result(idempotency_key)
            if first is not None:
                return first

        now = datetime.now(UTC)
        items = [self._event_item(stream_id, expected_version + i, e, now) for i, e in enumerate(events, start=1)]
        result = AppendResult(
            stream_id=stream_id,
            first_version=expected_version + 1,
            last_version=expected_version + len(events),
        )
        if len(items) == 1 and idempotency_key is None:
            self._put_one(stream_id, items[0], expected_version)
        else:
            first = self._transact(stream_id, items, expected_version, idempotency_key, result, now)
            if first is not None:
                return first
        return result

    def _put_one(self, stream_id: str, item: dict[str, Any], expected_version: int) -> None:
        # Consistent read first: the stream must have reached ``expected_version`` (item
        # ``expected`` exists; versions are gapless), else a put of ``expected+1`` would leave a
        # gap. A GetItem of that one key is O(1) where a "latest version" Query is not.
        if expected_version > 0 and not self._exists(stream_id, expected_version):
            raise ConcurrencyConflict(stream_id, expected_version, self.version(stream_id))
        # ... and the conditional put refuses it if someone took ``expected+1`` meanwhile.
        try:
            self.dynamodb.put_item(
                TableName=self.table,
                Item=item,
                ConditionExpression="attribute_not_exists(#pk)",
                ExpressionAttributeNames={"#pk": keys.EVENTS_PK},
            )
        except ClientError as exc:
            if _code(exc) in _CONFLICT_CODES:
                raise ConcurrencyConflict(stream_id, expected_version) from None
            raise

    def _transact(
        self,
        stream_id: str,
        items: list[dict[str, Any]],
        expected_version: int,
        idempotency_key: str | None,
        result: AppendResult,
        now: datetime,
    ) -> AppendResult | None:
        """Returns None when appended, or the first result when the idempotency key was taken
        meanwhile (by a racing retry of the same command); raises ConcurrencyConflict."""
        absent = {
            "ConditionExpression": "attribute_not_exists(#pk)",
            "ExpressionAttributeNames": {"#pk": keys.EVENTS_PK},
        }
        ops: list[dict[str, Any]] = [{"Put": {"TableName": self.table, "Item": it, **absent}} for it in items]
        if expected_version > 0:
            ops.append(
                {
                    "ConditionCheck": {
                        "TableName": self.table,
                        "Key": {
                            keys.EVENTS_PK: {"S": stream_id},
                            keys.EVENTS_SK: {"N": str(expected_version)},
                        },
                        "ConditionExpression": "attribute_exists(#pk)",
                        "ExpressionAttributeNames": {"#pk": keys.EVENTS_PK},
                    }
                }
            )
        if idempotency_key is not None:
            ops.append(
                {
                    "Put": {
                        "TableName": self.table,
                        "Item": codec.idempotency_item(idempotency_key, result, now),
                        **absent,
                    }
                }
            )
        if sum(_approx_size(it) for it in items) > MAX_TRANSACTION_BYTES:
            raise TooLarge("the events of one append exceed DynamoDB's 4 MB transaction limit", field="events")
        try:
            self.dynamodb.transact_write_items(TransactItems=ops)
            return None
        except ClientError as exc:
            if _code(exc) not in _CONFLICT_CODES:
                raise
            if idempotency_key is not None:
                first = self._idempotent_result(idempotency_key)
                if first is not None:  # this attempt appended nothing
                    return first
            raise ConcurrencyConflict(stream_id, expected_version) from None

    def _event_item(self, stream_id: str, version: int, event: NewEvent, now: datetime) -> dict[str, Any]:
        data = codec.encode_data(event)
        if len(data) > self.offload_threshold:
            return codec.event_item(stream_id, version, event, now, data_ref=self._offload(data))
        item = codec.event_item(stream_id, version, event, now, data=data)
        if _approx_size(item) > MAX_ITEM_BYTES:  # small payload, huge metadata
            raise TooLarge("event item over DynamoDB's 400 KB item limit", field="events")
        return item

    def _offload(self, data: bytes) -> str:
        key = keys.PAYLOAD_PREFIX + hashlib.sha256(data).hexdigest()
        # Content-addressed: rewriting the same bytes under the same key is harmless, and a
        # payload whose event never commits is an unreferenced blob, not a wrong one.
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType="application/json")
        return key

    def _exists(self, stream_id: str, version: int) -> bool:
        got = self.dynamodb.get_item(
            TableName=self.table,
            Key={keys.EVENTS_PK: {"S": stream_id}, keys.EVENTS_SK: {"N": str(version)}},
            ProjectionExpression="#sk",
            ExpressionAttributeNames={"#sk": keys.EVENTS_SK},
            ConsistentRead=True,
        )
        return "Item" in got

    def idempotent_result(self, idempotency_key: str) -> AppendResult | None:
        """The result of the append that used this key (duplicate=True), or None."""
        return self._idempotent_result(idempotency_key)

    def _idempotent_result(self, idempotency_key: str) -> AppendResult | None:
        got = self.dynamodb.get_item(
            TableName=self.table,
            Key={keys.EVENTS_PK: {"S": codec.idempotency_pk(idempotency_key)}, keys.EVENTS_SK: {"N": "0"}},
            ConsistentRead=True,
        )
        if "Item" not in got:
            return None
        return codec.result_from_idempotency_item(codec.from_attribute_values(got["Item"]))

    # ------------------------------------------------------------------ read

    def read(
        self,
        stream_id: str,
        *,
        after_version: int = 0,
        until_version: int | None = None,
        until_time: datetime | None = None,
    ) -> list[RecordedEvent]:
        _check_stream_id(stream_id)
        if until_version is not None and until_version <= after_version:
            return []
        values: dict[str, Any] = {":s": {"S": stream_id}, ":a": {"N": str(after_version)}}
        cond = "#pk = :s AND #sk > :a"
        if until_version is not None:
            cond = "#pk = :s AND #sk BETWEEN :lo AND :hi"
            values = {
                ":s": {"S": stream_id},
                ":lo": {"N": str(after_version + 1)},
                ":hi": {"N": str(until_version)},
            }
        query: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": cond,
            "ExpressionAttributeNames": {"#pk": keys.EVENTS_PK, "#sk": keys.EVENTS_SK},
            "ExpressionAttributeValues": values,
            "ConsistentRead": True,
        }
        events = [self._record(item) for item in self._pages("query", query)]
        if until_time is not None:
            # "As of T" = what the log held at T: the store's recorded_at, not occurred_at.
            events = [e for e in events if e.recorded_at <= until_time]
        return events

    def version(self, stream_id: str) -> int:
        _check_stream_id(stream_id)
        got = self.dynamodb.query(
            TableName=self.table,
            KeyConditionExpression="#pk = :s",
            ExpressionAttributeNames={"#pk": keys.EVENTS_PK, "#sk": keys.EVENTS_SK},
            ExpressionAttributeValues={":s": {"S": stream_id}},
            ProjectionExpression="#sk",
            ScanIndexForward=False,
            Limit=1,
            ConsistentRead=True,
        )
        items = got.get("Items", [])
        return int(items[0][keys.EVENTS_SK]["N"]) if items else 0

    def read_all(self, *, after_position: int = 0, limit: int = 1000) -> list[RecordedEvent]:
        raise NotImplementedError(
            "DynamoDB has no global order of events: use iter_all() (per-stream version order) "
            "or the DynamoDB Streams projector"
        )

    def iter_all(self) -> Iterator[RecordedEvent]:
        """Every event of every stream, each stream in version order (streams in id order).
        A consistent, paginated Scan filtered to event items; holds one scan's worth of items
        in memory to group them, which is what a rebuild needs anyway."""
        scan = {
            "TableName": self.table,
            "FilterExpression": "#kind = :event",
            "ExpressionAttributeNames": {"#kind": keys.KIND},
            "ExpressionAttributeValues": {":event": {"S": keys.KIND_EVENT}},
            "ConsistentRead": True,
        }
        per_stream: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for item in self._pages("scan", scan):
            per_stream[item[keys.EVENTS_PK]["S"]].append(item)
        for stream_id in sorted(per_stream):
            for item in sorted(per_stream[stream_id], key=lambda it: int(it[keys.EVENTS_SK]["N"])):
                yield self._record(item)

    # ------------------------------------------------------------------ helpers

    def _pages(self, op: str, request: dict[str, Any]) -> Iterator[dict[str, Any]]:
        call = getattr(self.dynamodb, op)
        while True:
            page = call(**request)
            yield from page.get("Items", [])
            last = page.get("LastEvaluatedKey")
            if not last:
                return
            request = {**request, "ExclusiveStartKey": last}

    def _record(self, item: dict[str, Any]) -> RecordedEvent:
        return codec.record_from_item(codec.from_attribute_values(item), self.load_payload)

    def load_payload(self, key: str) -> bytes:
        """Fetch an offloaded payload and check it against its content address."""
        body: bytes = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        if key.startswith(keys.PAYLOAD_PREFIX) and hashlib.sha256(body).hexdigest() != key[len(keys.PAYLOAD_PREFIX) :]:
            raise ValueError(f"offloaded payload {key!r} does not match its sha256")
        return body


def _check_stream_id(stream_id: str) -> None:
    if not stream_id or stream_id.startswith(keys.IDEMPOTENCY_PREFIX):
        raise Invalid(f"bad stream id {stream_id!r}", field="stream_id")


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _approx_size(item: dict[str, Any]) -> int:
    """DynamoDB item size: attribute names plus values (UTF-8), close enough for the limits."""
    size = 0
    for name, value in item.items():
        size += len(name.encode())
        for v in value.values():
            size += len(str(v).encode())
    return size
