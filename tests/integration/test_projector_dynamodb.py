"""Projector Lambda on moto: DynamoDB Streams records (as Lambda receives them) go through the
powertools BatchProcessor into the views table. Redelivered records change nothing, a poison
record comes back in batchItemFailures without blocking other streams, MODIFY/REMOVE and
idempotency items are ignored, offloaded payloads load from S3, and rebuild agrees."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from datetime import UTC, datetime
from itertools import count
from typing import Any

import boto3
import pytest
from _crash_writer import ITEMS, NAMES, PROJECTIONS, ItemWriter
from boto3.dynamodb.types import TypeSerializer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from domain.projection import Row, fold_all
from domain.records import RecordedEvent
from functions.projector import handler
from runtime import projections as registry
from runtime.adapters.dynamodb import keys
from runtime.adapters.dynamodb.views import DynamoDbViewStore
from runtime.projector import rebuild
from runtime.settings import get_settings
from tests.aws_tables import create_events_table, create_views_table

pytestmark = pytest.mark.integration

VIEWS_TABLE = "tlm-views"  # runtime.settings defaults, so the handler's own wiring finds them
BUCKET = "tlm-blobs"
ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/tlm-events/stream/2025-01-01T00:00:00.000"
_ser = TypeSerializer()
_seq = count(1000)


def history(seed: int, n_batches: int) -> list[RecordedEvent]:
    """A valid log from the shared test writer, as the store would record it."""
    writer, out = ItemWriter(random.Random(seed)), []
    now = datetime(2025, 1, 1, tzinfo=UTC)
    for _ in range(n_batches):
        stream, evts, expected = writer.next_batch()
        for i, e in enumerate(evts, start=1):
            out.append(
                RecordedEvent(
                    stream_id=stream,
                    version=expected + i,
                    type=e.type,
                    schema_version=e.schema_version,
                    data=e.data,
                    metadata=e.metadata,
                    recorded_at=now,
                )
            )
    return out


def image(e: RecordedEvent, *, data_ref: str | None = None, **override: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        keys.EVENTS_PK: e.stream_id,
        keys.EVENTS_SK: e.version,
        keys.KIND: keys.KIND_EVENT,
        "type": e.type,
        "schema_version": e.schema_version,
        "metadata": e.metadata.model_dump_json(),
        "recorded_at": e.recorded_at.isoformat(timespec="microseconds"),
    }
    if data_ref is None:
        item["data"] = json.dumps(e.data, separators=(",", ":"))
    else:
        item["data_ref"] = data_ref
    item.update(override)
    return {k: _ser.serialize(v) for k, v in item.items()}


def stream_record(
    new_image: dict[str, Any] | None, name: str = "INSERT", seq: int | None = None
) -> dict[str, Any]:
    """One DynamoDB Streams record as Lambda delivers it (StreamViewType NEW_IMAGE)."""
    img = new_image or {keys.EVENTS_PK: {"S": "item-x"}, keys.EVENTS_SK: {"N": "1"}}
    dynamodb: dict[str, Any] = {
        "ApproximateCreationDateTime": 1735689600,
        "Keys": {keys.EVENTS_PK: img[keys.EVENTS_PK], keys.EVENTS_SK: img[keys.EVENTS_SK]},
        "SequenceNumber": str(next(_seq) if seq is None else seq),
        "SizeBytes": 256,
        "StreamViewType": "NEW_IMAGE",
    }
    if new_image is not None:
        dynamodb["NewImage"] = new_image
    return {
        "eventID": f"id-{dynamodb['SequenceNumber']}",
        "eventName": name,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": dynamodb,
        "eventSourceARN": ARN,
    }


def batch(records: list[dict[str, Any]]) -> dict[str, Any]:
    return {"Records": records}


def failures(response: dict[str, Any]) -> list[str]:
    return [f["itemIdentifier"] for f in response["batchItemFailures"]]


@pytest.fixture(scope="module")
def aws() -> Iterator[DynamoDbViewStore]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        create_views_table(client, VIEWS_TABLE)
        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket=BUCKET)
        yield DynamoDbViewStore(client, VIEWS_TABLE)


@pytest.fixture
def views(aws: DynamoDbViewStore) -> Iterator[DynamoDbViewStore]:
    """Handler wired to the test projections on the moto tables; views empty."""
    for view in (ITEMS, NAMES):
        aws.clear(view)
    s3 = boto3.client("s3", region_name="us-east-1")
    handler.use(
        handler.Dependencies(
            aws, PROJECTIONS, lambda key: s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
        )
    )
    yield aws
    handler.use(None)


def rows(store: DynamoDbViewStore) -> dict[str, dict[str, Row]]:
    return {v: dict(store.scan(v)) for v in (ITEMS, NAMES)}


def expected(log: list[RecordedEvent]) -> dict[str, dict[str, Row]]:
    return {p.view: fold_all(p, log) for p in PROJECTIONS}


def deliveries(log: list[RecordedEvent], rng: random.Random, dup_rate: float) -> list[RecordedEvent]:
    """Streams interleaved, each in version order; some records delivered again later."""
    queues: dict[str, list[RecordedEvent]] = {}
    for e in log:
        queues.setdefault(e.stream_id, []).append(e)
    out: list[RecordedEvent] = []
    while any(queues.values()):
        e = queues[rng.choice([s for s, q in queues.items() if q])].pop(0)
        out.append(e)
        if rng.random() < dup_rate:
            out.append(rng.choice(out))
    return out


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    seed=st.integers(0, 2**20),
    n=st.integers(1, 10),
    batch_size=st.integers(1, 25),
    dup=st.sampled_from([0.0, 0.4]),
)
def test_stream_batches_with_redeliveries_equal_the_reference_fold(
    views: DynamoDbViewStore, seed: int, n: int, batch_size: int, dup: float
) -> None:
    for view in (ITEMS, NAMES):
        views.clear(view)
    # Given a history delivered in Lambda batches, streams interleaved, records redelivered
    log = history(seed, n)
    sent = deliveries(log, random.Random(seed), dup)
    # When each batch goes through the handler
    for i in range(0, len(sent), batch_size):
        response = handler.lambda_handler(
            batch([stream_record(image(e)) for e in sent[i : i + batch_size]]), None
        )
        assert failures(response) == []
    # Then the views equal the reference fold, and replaying the whole batch again changes nothing
    want = expected(log)
    assert rows(views) == want
    handler.lambda_handler(batch([stream_record(image(e)) for e in log]), None)
    assert rows(views) == want
    # And a rebuild from the log gives the same views
    rebuild(views, PROJECTIONS, iter(log))
    assert rows(views) == want


def test_poison_records_fail_alone_and_the_rest_of_the_batch_applies(views: DynamoDbViewStore) -> None:
    log = history(3, 12)
    by_stream: dict[str, list[RecordedEvent]] = {}
    for e in log:
        by_stream.setdefault(e.stream_id, []).append(e)
    good_stream, bad_stream = sorted(by_stream)[:2]
    bad_first, *bad_rest = by_stream[bad_stream]
    # Given a batch: one stream fine; another whose first record has an unknown event type;
    # a record whose metadata is not JSON; MODIFY / REMOVE records; an idempotency item
    unknown = stream_record(image(bad_first, type="t_item.exploded"))
    garbled_event = by_stream[good_stream][0].model_copy(update={"stream_id": "item-zz"})
    garbled = stream_record(image(garbled_event, metadata="{not json"))
    rest = [stream_record(image(e)) for e in bad_rest]
    idem = {
        keys.EVENTS_PK: {"S": keys.IDEMPOTENCY_PREFIX + "k1"},
        keys.EVENTS_SK: {"N": "0"},
        keys.KIND: {"S": keys.KIND_IDEMPOTENCY},
        "target_stream_id": {"S": good_stream},
    }
    ignored = [
        stream_record(image(by_stream[good_stream][0], type="t_item.exploded"), name="MODIFY"),
        stream_record(None, name="REMOVE"),
        stream_record(idem),
    ]
    good = [stream_record(image(e)) for e in by_stream[good_stream]]
    records = [good[0], unknown, garbled, *ignored, *rest, *good[1:]]
    # When the handler runs
    response = handler.lambda_handler(batch(records), None)
    # Then the unknown-type and garbled records fail, and so do the later records of the poisoned
    # stream (retried after it, never applied ahead of it); everything else is applied
    assert failures(response) == [r["dynamodb"]["SequenceNumber"] for r in (unknown, garbled, *rest)]
    assert rows(views) == expected(by_stream[good_stream])
    # When the poison is fixed upstream and Lambda retries from the first failed record
    retry = [stream_record(image(bad_first)), *[stream_record(image(e)) for e in bad_rest], *good]
    assert failures(handler.lambda_handler(batch(retry), None)) == []
    assert rows(views) == expected(by_stream[good_stream] + by_stream[bad_stream])


def test_offloaded_payloads_load_from_s3(views: DynamoDbViewStore) -> None:
    e = history(5, 1)[0]
    key = keys.PAYLOAD_PREFIX + "abc123"
    boto3.client("s3", region_name="us-east-1").put_object(
        Bucket=BUCKET, Key=key, Body=json.dumps(e.data).encode()
    )
    assert failures(handler.lambda_handler(batch([stream_record(image(e, data_ref=key))]), None)) == []
    assert rows(views) == expected([e])


def test_a_tombstone_blocks_resurrection_by_an_old_redelivery(views: DynamoDbViewStore) -> None:
    from _crash_writer import META, ItemCreated, ItemDeleted

    now = datetime(2025, 1, 1, tzinfo=UTC)
    created = RecordedEvent(
        stream_id="item-t",
        version=1,
        type="t_item.created",
        data=ItemCreated(name="q").model_dump(),
        metadata=META,
        recorded_at=now,
    )
    deleted = RecordedEvent(
        stream_id="item-t",
        version=2,
        type="t_item.deleted",
        data=ItemDeleted(name="q").model_dump(),
        metadata=META,
        recorded_at=now,
    )
    handler.lambda_handler(batch([stream_record(image(created)), stream_record(image(deleted))]), None)
    handler.lambda_handler(batch([stream_record(image(created))]), None)
    assert views.get(ITEMS, "t") is None and rows(views) == {ITEMS: {}, NAMES: {}}
    tomb = views.load(ITEMS, "t")
    assert tomb is not None and tomb.row is None and tomb.versions == {"item-t": 2}


def test_conditional_write_refuses_a_stale_or_duplicate_version(views: DynamoDbViewStore) -> None:
    from runtime.ports import ViewRecord

    # Given a new row
    first = ViewRecord(ITEMS, "k", {"n": 1}, {"item-a": 1})
    assert views.save(first, None)
    # Then a second "new row" write of it is refused
    assert not views.save(first, None)
    loaded = views.load(ITEMS, "k")
    assert views.save(ViewRecord(ITEMS, "k", {"n": 2}, {"item-a": 2}), loaded)
    # And a writer holding the old copy loses (rev moved on), even for another stream
    assert not views.save(ViewRecord(ITEMS, "k", {"n": 9}, {"item-a": 1, "item-b": 1}), loaded)
    # And a write that re-applies a version the row already has is refused by the guard
    current = views.load(ITEMS, "k")
    assert current is not None
    stale = type(current)(view=ITEMS, key="k", row=current.row, versions={"item-a": 1}, rev=current.rev)  # type: ignore[call-arg, attr-defined]
    assert not views.save(ViewRecord(ITEMS, "k", {"n": 7}, {"item-a": 2}), stale)
    assert views.get(ITEMS, "k") == {"n": 2}


def test_default_wiring_from_settings_and_registry(aws: DynamoDbViewStore) -> None:
    # Given the handler building its own clients from TLM_ settings and the projection registry
    for p in PROJECTIONS:
        registry.register(p)
    get_settings.cache_clear()
    handler.use(None)
    try:
        for view in (ITEMS, NAMES):
            aws.clear(view)
        log = history(11, 4)
        # When a batch arrives
        response = handler.lambda_handler(batch([stream_record(image(e)) for e in log]), None)
        # Then the views table holds the fold
        assert failures(response) == []
        assert rows(aws) == expected(log)
    finally:
        for p in PROJECTIONS:
            registry.unregister(p.view)
        handler.use(None)


def _stream_records(dynamodb: Any, table: str) -> list[dict[str, Any]]:
    """Everything on the table's stream (moto's DynamoDB Streams), shaped as Lambda hands it on."""
    streams = boto3.client("dynamodbstreams", region_name="us-east-1")
    arn = dynamodb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    out: list[dict[str, Any]] = []
    for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        it = streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )
        got = streams.get_records(ShardIterator=it["ShardIterator"])
        for r in got["Records"]:  # boto3 parses the timestamp; Lambda's JSON has epoch seconds
            created = r["dynamodb"].get("ApproximateCreationDateTime")
            if isinstance(created, datetime):
                r["dynamodb"]["ApproximateCreationDateTime"] = int(created.timestamp())
            out.append({**r, "eventSourceARN": arn})
    return out


def test_records_from_a_real_stream_of_the_event_store(views: DynamoDbViewStore) -> None:
    from runtime.adapters.dynamodb.event_store import DynamoDbEventStore

    # Given the DynamoDB event store on a moto table with a NEW_IMAGE stream: multi-event
    # appends, an idempotency key (its item lands on the stream too), an offloaded payload
    dynamodb = boto3.client("dynamodb", region_name="us-east-1")
    create_events_table(dynamodb, "tlm-events")
    s3 = boto3.client("s3", region_name="us-east-1")
    store = DynamoDbEventStore(dynamodb, s3, "tlm-events", BUCKET, offload_threshold=1024)
    writer = ItemWriter(random.Random(21))
    for i in range(15):
        stream, evts, expected_version = writer.next_batch()
        store.append(stream, evts, expected_version, idempotency_key=f"req-{i}" if i % 4 == 0 else None)
    from _crash_writer import META, ItemCreated

    from domain.records import NewEvent

    store.append("item-big", [NewEvent.of(ItemCreated(name="big", batch="x" * 5000), META)], 0)
    handler.use(handler.Dependencies(views, PROJECTIONS, store.load_payload))
    records = _stream_records(dynamodb, "tlm-events")
    assert any(r["dynamodb"]["NewImage"][keys.KIND]["S"] == keys.KIND_IDEMPOTENCY for r in records)
    # When the stream's records arrive in two batches, the second one redelivered
    half = len(records) // 2
    for part in (records[:half], records[half:], records[half:]):
        assert failures(handler.lambda_handler(batch(part), None)) == []
    # Then the views are the fold of the stored log, and rebuild(iter_all) agrees
    log = list(store.iter_all())
    assert rows(views) == expected(log)
    assert views.get(NAMES, "big") == {"ids": {"big": 1}}
    assert "data_ref" in json.dumps(records)  # the big one really was offloaded
    rebuild(views, PROJECTIONS, store.iter_all())
    assert rows(views) == expected(log)


def test_handler_import_is_light_and_does_no_aws_work() -> None:
    import subprocess
    import sys

    code = (
        "import sys, functions.projector.handler as h\n"
        "assert h._deps is None, 'dependencies built at import'\n"
        "heavy = [m for m in ('torch', 'transformers', 'sagemaker', 'pandas', 'onnx') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
