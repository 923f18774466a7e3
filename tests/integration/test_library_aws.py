"""The model-library scenario at service level on the AWS adapters (moto): DynamoDB events /
views / idempotency tables, the S3 blobs bucket, presigned part PUTs, the S3 trigger handler fed
a real S3 notification payload, and the projector handler fed the real DynamoDB Streams records
that moto's stream holds for the events table (read with dynamodbstreams, as Lambda would).

Nothing here calls a projection or the verifier directly: the views only move when ``pump()``
hands stream records to ``functions.projector.handler.handler``, and files only appear when the
S3 event reaches ``functions.triggers.s3_upload.handler`` (on AWS the API answers "verifying").
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
import requests
from moto import mock_aws

from domain.errors import NotFound
from functions.projector import handler as projector
from functions.triggers import s3_upload
from runtime import projections as registry
from runtime.bootstrap import Container, build_aws, set_container
from runtime.search.query import SearchQuery
from runtime.services.commands import Caller
from runtime.settings import Settings
from tests.aws_asl import s3_event
from tests.aws_tables import create_events_table, create_idempotency_table, create_views_table

pytestmark = pytest.mark.integration

REGION = "us-east-1"
EVENTS, VIEWS, IDEM, BUCKET = "it-events", "it-views", "it-idempotency", "it-blobs"
MIB = 1024 * 1024
ALICE = Caller(user_id="alice")


class FakeContext:
    """What powertools' inject_lambda_context reads from a Lambda context."""

    function_name = "tlm-test"
    function_version = "$LATEST"
    memory_limit_in_mb = 256
    invoked_function_arn = f"arn:aws:lambda:{REGION}:123456789012:function:tlm-test"
    aws_request_id = "req-1"
    log_group_name = "/aws/lambda/tlm-test"
    log_stream_name = "stream"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


@dataclass
class Aws:
    container: Container
    ddb: Any
    s3: Any
    streams: Any
    stream_arn: str
    iterators: dict[str, str] = field(default_factory=dict)
    seen: list[dict[str, Any]] = field(default_factory=list)  # every stream record delivered
    trigger_events: list[dict[str, Any]] = field(default_factory=list)  # every S3 event sent

    @property
    def library(self) -> Any:
        return self.container.library

    def pump(self) -> int:
        """Read new records from every shard (remembering the iterators, as a Lambda event
        source mapping does) and pass them to the projector handler; returns records delivered."""
        delivered = 0
        shards = self.streams.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]["Shards"]
        for shard in shards:
            sid = shard["ShardId"]
            if sid not in self.iterators:
                self.iterators[sid] = self.streams.get_shard_iterator(
                    StreamArn=self.stream_arn, ShardId=sid, ShardIteratorType="TRIM_HORIZON"
                )["ShardIterator"]
            while True:
                out = self.streams.get_records(ShardIterator=self.iterators[sid], Limit=100)
                self.iterators[sid] = out["NextShardIterator"]
                records = [self._as_lambda(r) for r in out["Records"]]
                if not records:
                    break
                self.deliver(records)
                self.seen.extend(records)
                delivered += len(records)
        return delivered

    def _as_lambda(self, record: dict[str, Any]) -> dict[str, Any]:
        rec: dict[str, Any] = json.loads(json.dumps(record, default=_json_default))
        rec["eventSourceARN"] = self.stream_arn
        return rec

    def deliver(self, records: list[dict[str, Any]]) -> None:
        response = projector.handler({"Records": records}, FakeContext())
        assert response["batchItemFailures"] == []

    def s3_event(self, key: str) -> dict[str, Any]:
        """The notification S3 sends for an object created by CompleteMultipartUpload."""
        return s3_event(BUCKET, key, self.s3.head_object(Bucket=BUCKET, Key=key))

    def trigger(self, upload_id: str) -> list[dict[str, Any]]:
        event = self.s3_event(f"uploads/{upload_id}")
        self.trigger_events.append(event)
        results: list[dict[str, Any]] = s3_upload.handler(event, FakeContext())["results"]
        return results

    def blob_keys(self) -> set[str]:
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix="sha256/")
        return {o["Key"] for p in pages for o in p.get("Contents", [])}

    def views_snapshot(self) -> list[dict[str, Any]]:
        return sorted(self.ddb.scan(TableName=VIEWS, ConsistentRead=True)["Items"], key=json.dumps)

    def upload(self, model_id: str, path: str, data: bytes, *, sha256: str | None = None) -> str:
        """Start, PUT every part to its presigned URL, complete: returns the upload id."""
        sha = sha256 or hashlib.sha256(data).hexdigest()
        up = self.library.start_upload(ALICE, model_id, path=path, size=len(data), sha256=sha)
        ps = up["part_size"]
        for t in up["parts"]:
            n = t["part_number"]
            r = requests.put(t["url"], data=data[(n - 1) * ps : n * ps], headers=t["headers"] or {}, timeout=60)
            assert r.status_code == 200, r.text
        assert self.library.complete_upload(ALICE, model_id, up["upload_id"]) == {
            "upload_id": up["upload_id"],
            "state": "verifying",
        }
        return str(up["upload_id"])

    def finish(self, upload_id: str) -> list[dict[str, Any]]:
        """What AWS does after completion: the projector sees the upload, S3 fires the trigger,
        the projector sees the trigger's event."""
        self.pump()
        results = self.trigger(upload_id)
        self.pump()
        return results


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return int(value.timestamp())
    raise TypeError(type(value))


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Aws]:
    monkeypatch.setenv("AWS_ACCOUNT_ID_ENDPOINT_MODE", "disabled")
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name=REGION)
        s3 = boto3.client("s3", region_name=REGION)
        create_events_table(ddb, EVENTS)
        create_views_table(ddb, VIEWS)
        create_idempotency_table(ddb, IDEM)
        s3.create_bucket(Bucket=BUCKET)
        settings = Settings(
            backend="aws",
            region=REGION,
            events_table=EVENTS,
            views_table=VIEWS,
            idempotency_table=IDEM,
            blobs_bucket=BUCKET,
        )
        container = build_aws(settings)
        set_container(container)

        def load_payload(key: str) -> bytes:
            return bytes(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())

        projector.use(projector.Dependencies(container.views, registry.all(), load_payload))
        arn = ddb.describe_table(TableName=EVENTS)["Table"]["LatestStreamArn"]
        try:
            yield Aws(container, ddb, s3, boto3.client("dynamodbstreams", region_name=REGION), arn)
        finally:
            projector.use(None)
            set_container(None)


def _data(size: int, seed: bytes) -> bytes:
    block = hashlib.sha256(seed).digest() * (MIB // 32)
    return (block * (size // len(block) + 1))[:size]


def _ids(result: dict[str, Any]) -> list[str]:
    return [item["model_id"] for item in result["items"]]


def test_library_scenario_on_aws_adapters(aws: Aws) -> None:
    lib = aws.library
    # Given a project with two models
    project = lib.create_project(ALICE, "情感分析", "中文模型")
    pid = project["project_id"]
    model = lib.register_model(
        ALICE, pid, name="中文情感分类模型", family="bert", description="中文情感分类，基于评论数据",
        tags=["sentiment", "中文"], license="apache-2.0", source="local",
    )  # fmt: skip
    mid = model["model_id"]
    other = lib.register_model(ALICE, pid, name="文本摘要模型", family="roberta", tags=["summary"])["model_id"]

    # When a 3 x 5 MiB + tail file goes up through presigned part URLs and S3's event arrives
    weights = _data(3 * 5 * MIB + 123_457, b"weights")
    vocab = _data(70_001, b"vocab")  # one small part; model `other` will hold the same bytes
    wsha, vsha = hashlib.sha256(weights).hexdigest(), hashlib.sha256(vocab).hexdigest()
    up = aws.upload(mid, "model.safetensors", weights)
    assert lib.upload_status(ALICE, mid, up)["state"] == "open"  # joined, not yet verified
    assert lib.get_model(ALICE, mid)["files"] == []
    results = aws.finish(up)
    assert results == [
        {"upload_id": up, "state": "completed", "path": "model.safetensors", "size": len(weights), "sha256": wsha}
    ]
    aws.finish(aws.upload(mid, "vocab.txt", vocab))
    aws.finish(aws.upload(other, "vocab.txt", vocab))

    # Then the model has the files with size and sha256, and the blobs are content-addressed
    files = lib.get_model(ALICE, mid)["files"]
    assert files == [
        {"path": "model.safetensors", "size": len(weights), "sha256": wsha},
        {"path": "vocab.txt", "size": len(vocab), "sha256": vsha},
    ]
    assert lib.upload_status(ALICE, mid, up)["state"] == "completed"
    assert aws.blob_keys() == {f"sha256/{wsha}", f"sha256/{vsha}"}

    # And search finds it by a Chinese word, pinyin, initials and tag
    for q in ("情感", "qinggan", "zwqgfl", "sentiment"):
        assert _ids(lib.list_models(ALICE, query=SearchQuery(q=q))) == [mid], q
    assert _ids(lib.list_models(ALICE, query=SearchQuery(tags=("sentiment",)))) == [mid]
    assert _ids(lib.list_models(ALICE, query=SearchQuery(q="摘要"))) == [other]
    summary = lib.list_models(ALICE, project_id=pid, query=SearchQuery(q="情感"))["items"][0]
    assert (summary["file_count"], summary["total_size"]) == (2, len(weights) + len(vocab))

    # And the presigned download URL returns the bytes
    dl = lib.download(ALICE, mid, "model.safetensors")
    assert (dl["size"], dl["sha256"]) == (len(weights), wsha)
    body = requests.get(dl["url"], timeout=60).content
    assert hashlib.sha256(body).hexdigest() == wsha
    ranged = requests.get(dl["url"], headers={"Range": "bytes=100-199"}, timeout=60)
    assert ranged.status_code == 206 and ranged.content == weights[100:200]

    # And the history says who did what, when
    hist = lib.history(ALICE, mid)
    assert [h["type"] for h in hist][:2] == ["model.registered", "model.upload_started"]
    added = [h for h in hist if h["type"] == "model.file_added"]
    assert [h["data"]["path"] for h in added] == ["model.safetensors", "vocab.txt"]
    assert hist[0]["actor"] == "alice" and added[0]["actor"] == "system:finalizer"
    assert all(datetime.fromisoformat(h["at"]) <= datetime.now(UTC) for h in hist)

    # When the S3 event is redelivered and every stream record is delivered again
    version = lib.get_model(ALICE, mid)["version"]
    before = aws.views_snapshot()
    for event in aws.trigger_events:
        assert s3_upload.handler(event, FakeContext())["results"][0]["state"] == "completed"
    assert aws.pump() == 0  # the redelivered trigger appended nothing
    aws.deliver(list(aws.seen))
    aws.deliver(list(reversed(aws.seen[-5:])))
    # Then nothing changed
    assert lib.get_model(ALICE, mid)["version"] == version
    assert aws.views_snapshot() == before

    # When the model is deleted
    lib.delete_model(ALICE, mid)
    aws.pump()
    # Then it is gone from reads and search; only the blob nobody else holds is reclaimed
    with pytest.raises(NotFound):
        lib.get_model(ALICE, mid)
    for q in ("情感", "qinggan", "sentiment"):
        assert lib.list_models(ALICE, query=SearchQuery(q=q))["total"] == 0
    assert lib.collect_garbage(grace_s=0) == [f"sha256/{wsha}"]
    assert aws.blob_keys() == {f"sha256/{vsha}"}  # `other` still references the vocab bytes
    assert lib.get_model(ALICE, other)["files"][0]["sha256"] == vsha
    lib.delete_model(ALICE, other)
    aws.pump()
    assert lib.collect_garbage(grace_s=0) == [f"sha256/{vsha}"]
    assert aws.blob_keys() == set()
    assert lib.list_models(ALICE)["total"] == 0


def test_wrong_sha256_is_rejected_with_nothing_under_sha256(aws: Aws) -> None:
    lib = aws.library
    pid = lib.create_project(ALICE, "p")["project_id"]
    mid = lib.register_model(ALICE, pid, name="中文情感分类模型", family="bert")["model_id"]
    data = _data(5 * MIB + 10, b"bad")
    claimed = hashlib.sha256(b"something else").hexdigest()
    # Given an upload whose bytes do not match the sha256 announced at start
    up = aws.upload(mid, "model.onnx", data, sha256=claimed)
    # When S3's event reaches the trigger
    result = aws.finish(up)
    # Then the upload is rejected, recorded as an event, and no blob appears
    assert result[0]["state"] == "rejected" and result[0]["field"] == "sha256"
    status = lib.upload_status(ALICE, mid, up)
    assert status["state"] == "rejected"
    assert lib.get_model(ALICE, mid)["files"] == []
    assert aws.blob_keys() == set()
    assert [h["type"] for h in lib.history(ALICE, mid)][-1] == "model.upload_rejected"
    # And a redelivered event leaves it rejected
    assert s3_upload.handler(aws.trigger_events[-1], FakeContext())["results"][0]["state"] == "rejected"
    assert aws.blob_keys() == set()
