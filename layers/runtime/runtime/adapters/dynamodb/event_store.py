"""DynamoDB event store (the AWS adapter). See DESIGN.md §4 and ``codec`` for the item format.

Partition key = stream id, sort key = version. Versions are gapless from 1 and items are never
deleted, so "the stream is at version v" is the same as "item v exists (or v = 0) and item v+1
does not". Appends rely on that:

- one event, no idempotency key: a consistent read that the stream has reached
  ``expected_version`` (GetItem of that version; if absent it is a conflict, so an
  ``expected_version`` ahead of the stream can never leave a gap), then
  ``PutItem`` of item ``expected+1`` with ``attribute_not_exists``: of two racing writers exactly
  one put succeeds;
- several events, an idempotency key, or ``append_batch`` (several streams): one
  ``TransactWriteItems`` with every event item guarded by ``attribute_not_exists``, per stream a
  ``ConditionCheck`` that item ``expected`` exists (when expected > 0; beyond the 100-item budget
  a consistent BatchGetItem before the transaction checks it instead) and the idempotency item
  guarded by ``attribute_not_exists`` (for a batch it keeps every stream's result). At most 100
  items per transaction (DynamoDB's limit): events plus the key; more is ``Invalid`` before
  anything (S3 payloads included) is written.

``ConditionalCheckFailed`` / ``TransactionCanceled`` become one ``ConcurrencyConflict``, unless
the idempotency key turns out to be taken, in which case the first append's result comes back
with ``duplicate=True``. Payloads whose JSON is larger than ``offload_threshold`` bytes are put
to S3 under ``keys.PAYLOAD_PREFIX + sha256`` first; the item keeps ``data_ref``.

There is no global order on DynamoDB: ``read_all`` raises NotImplementedError; rebuilds use
``iter_all`` (a consistent, paginated Scan, grouped per stream, each in version order).
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from domain.errors import ConcurrencyConflict, Invalid, TooLarge
from domain.records import AppendResult, NewEvent, RecordedEvent
from runtime.adapters.dynamodb import codec, keys
from runtime.ports import StreamAppend, check_batch

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
        room = MAX_TRANSACTION_ITEMS - (idempotency_key is not None)
        if len(events) > room:
            raise Invalid(
                f"at most {room} events per append here (DynamoDB transactions hold {MAX_TRANSACTION_ITEMS} items)",
                field="events",
            )
        if len(events) == 1 and idempotency_key is None:
            item = self._event_item(stream_id, expected_version + 1, events[0], datetime.now(UTC))
            self._put_one(stream_id, item, expected_version)
            return AppendResult(
                stream_id=stream_id, first_version=expected_version + 1, last_version=expected_version + 1
            )
        return self._write([StreamAppend(stream_id, events, expected_version)], idempotency_key)[0]

    def append_batch(
        self, appends: Sequence[StreamAppend], *, idempotency_key: str | None = None
    ) -> list[AppendResult]:
        """One TransactWriteItems for every stream (see the module docstring)."""
        check_batch(appends, idempotency_key)
        for a in appends:
            _check_stream_id(a.stream_id)
        return self._write(appends, idempotency_key)

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

    def _write(self, appends: Sequence[StreamAppend], idempotency_key: str | None) -> list[AppendResult]:
        """One transaction: every event item put with ``attribute_not_exists``, the idempotency
        item likewise, and per stream at ``expected > 0`` a ``ConditionCheck`` that item
        ``expected`` exists while the 100-item budget allows; streams beyond the budget are
        checked by a consistent read before the transaction instead (safe: items are never
        deleted, so an item seen once stays). Raises ConcurrencyConflict, or returns the first
        results when the idempotency key was taken (before, or by a racing retry meanwhile)."""
        if idempotency_key is not None and (first := self._idempotent_results(idempotency_key)) is not None:
            return first
        checks = [a for a in appends if a.expected_version > 0]
        room = MAX_TRANSACTION_ITEMS - sum(len(a.events) for a in appends) - (idempotency_key is not None)
        in_transaction, checked_before = checks[: max(room, 0)], checks[max(room, 0) :]
        self._require_reached(checked_before)

        now = datetime.now(UTC)
        results: list[AppendResult] = []
        ops: list[dict[str, Any]] = []
        owners: list[StreamAppend] = []  # the stream each op belongs to (to name a conflict)
        size = 0
        absent = {
            "ConditionExpression": "attribute_not_exists(#pk)",
            "ExpressionAttributeNames": {"#pk": keys.EVENTS_PK},
        }
        for a in appends:  # payloads over the threshold go to S3 here, before the write
            for i, e in enumerate(a.events, start=1):
                item = self._event_item(a.stream_id, a.expected_version + i, e, now)
                size += _approx_size(item)
                ops.append({"Put": {"TableName": self.table, "Item": item, **absent}})
                owners.append(a)
            results.append(
                AppendResult(
                    stream_id=a.stream_id,
                    first_version=a.expected_version + 1,
                    last_version=a.expected_version + len(a.events),
                )
            )
        for a in in_transaction:
            check = {
                "TableName": self.table,
                "Key": _key(a.stream_id, a.expected_version),
                "ConditionExpression": "attribute_exists(#pk)",
                "ExpressionAttributeNames": {"#pk": keys.EVENTS_PK},
            }
            ops.append({"ConditionCheck": check})
            owners.append(a)
        if idempotency_key is not None:
            item = codec.idempotency_item(idempotency_key, results[0], now)
            if len(results) > 1:
                item["batch"] = {"S": json.dumps([[r.stream_id, r.first_version, r.last_version] for r in results])}
            ops.append({"Put": {"TableName": self.table, "Item": item, **absent}})
        if size > MAX_TRANSACTION_BYTES:
            raise TooLarge("the events of one append exceed DynamoDB's 4 MB transaction limit", field="events")
        try:
            self.dynamodb.transact_write_items(TransactItems=ops)
            return results
        except ClientError as exc:
            if _code(exc) not in _CONFLICT_CODES:
                raise
            if idempotency_key is not None:
                first = self._idempotent_results(idempotency_key)
                if first is not None:  # this attempt appended nothing
                    return first
            culprit = _failed_owner(exc, owners) or appends[0]
            raise ConcurrencyConflict(culprit.stream_id, culprit.expected_version) from None

    def _require_reached(self, appends: Sequence[StreamAppend]) -> None:
        """Consistent BatchGetItem: every stream has reached its expected version, else a
        conflict naming the first that has not."""
        wanted = {(a.stream_id, a.expected_version): a for a in appends}
        found: set[tuple[str, int]] = set()
        pending = [_key(s, v) for s, v in wanted]
        while pending:
            names = {"#pk": keys.EVENTS_PK, "#sk": keys.EVENTS_SK}
            request = {
                self.table: {
                    "Keys": pending[:100],
                    "ConsistentRead": True,
                    "ProjectionExpression": "#pk, #sk",
                    "ExpressionAttributeNames": names,
                }
            }
            pending = pending[100:]
            while request:
                got = self.dynamodb.batch_get_item(RequestItems=request)
                for it in got.get("Responses", {}).get(self.table, []):
                    found.add((it[keys.EVENTS_PK]["S"], int(it[keys.EVENTS_SK]["N"])))
                request = got.get("UnprocessedKeys") or {}
        for (stream_id, version), _ in wanted.items():
            if (stream_id, version) not in found:
                raise ConcurrencyConflict(stream_id, version, self.version(stream_id))

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
        """The result of the append that used this key (duplicate=True), or None; for a batch,
        its first stream's."""
        found = self._idempotent_results(idempotency_key)
        return found[0] if found else None

    def _idempotent_results(self, idempotency_key: str) -> list[AppendResult] | None:
        got = self.dynamodb.get_item(
            TableName=self.table,
            Key={keys.EVENTS_PK: {"S": codec.idempotency_pk(idempotency_key)}, keys.EVENTS_SK: {"N": "0"}},
            ConsistentRead=True,
        )
        if "Item" not in got:
            return None
        item = codec.from_attribute_values(got["Item"])
        if "batch" not in item:
            return [codec.result_from_idempotency_item(item)]
        return [
            AppendResult(stream_id=s, first_version=a, last_version=b, duplicate=True)
            for s, a, b in json.loads(item["batch"])
        ]

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


def _key(stream_id: str, version: int) -> dict[str, Any]:
    return {keys.EVENTS_PK: {"S": stream_id}, keys.EVENTS_SK: {"N": str(version)}}


def _failed_owner(exc: ClientError, owners: list[StreamAppend]) -> StreamAppend | None:
    """The stream whose condition cancelled the transaction (CancellationReasons are in op
    order); None when DynamoDB does not say (e.g. a TransactionConflict)."""
    reasons = exc.response.get("CancellationReasons") or []
    for i, reason in enumerate(reasons):
        if reason.get("Code") == "ConditionalCheckFailed" and i < len(owners):
            return owners[i]
    return None


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
