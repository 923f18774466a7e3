"""``Idempotency-Key`` through the API's Lambda handler on the AWS persistence layer (powertools'
DynamoDB idempotency table, the events table and S3 on moto): a retried write answers with the
first response and writes once; the same key for another request is a 422 naming the header; a
failed request is not remembered, so its corrected retry with the same key goes through."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from functions.api import handler as api
from runtime.adapters.dynamodb import keys
from runtime.bootstrap import build_aws, set_container
from runtime.settings import Settings
from tests.aws_tables import create_events_table, create_idempotency_table, create_views_table
from tlm.server import proxy_event

pytestmark = pytest.mark.integration
REGION, EVENTS, VIEWS, IDEM, BUCKET = "us-east-1", "idem-events", "idem-views", "idem-keys", "idem-blobs"


class Context:
    function_name = "tlm-api"
    function_version = "$LATEST"
    memory_limit_in_mb = 256
    invoked_function_arn = f"arn:aws:lambda:{REGION}:123456789012:function:tlm-api"
    aws_request_id = "req-idem"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


@pytest.fixture
def ddb(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name=REGION)
        create_events_table(client, EVENTS)
        create_views_table(client, VIEWS)
        create_idempotency_table(client, IDEM)
        boto3.client("s3", region_name=REGION).create_bucket(Bucket=BUCKET)
        settings = Settings(backend="aws", region=REGION, events_table=EVENTS, views_table=VIEWS,
                            idempotency_table=IDEM, blobs_bucket=BUCKET)  # fmt: skip
        container = build_aws(settings)
        set_container(container)
        # the handler builds its idempotent call once per process: rebuild it on this container
        monkeypatch.setattr(api, "_idempotency", None)
        try:
            yield client
        finally:
            set_container(None)


def call(body: Any, key: str | None, user: str = "alice") -> tuple[int, dict[str, Any]]:
    headers = {"Content-Type": "application/json", **({"Idempotency-Key": key} if key else {})}
    event = proxy_event("POST", "/projects", headers, json.dumps(body).encode(), user)
    response = api.handler(event, Context())
    return int(response["statusCode"]), json.loads(response["body"])


def project_streams(client: Any) -> list[str]:
    items = client.scan(TableName=EVENTS)["Items"]
    return sorted({i[keys.EVENTS_PK]["S"] for i in items if i[keys.EVENTS_PK]["S"].startswith("project-")})


def test_a_retried_write_answers_once_from_the_dynamodb_idempotency_table(ddb) -> None:
    # Given a project created with an Idempotency-Key
    status, first = call({"name": "幂等项目"}, "key-1")
    assert status == 201
    # When the same request is retried with the same key
    again_status, again = call({"name": "幂等项目"}, "key-1")
    # Then it answers with the first response, and only one project was written
    assert (again_status, again) == (201, first)
    assert project_streams(ddb) == [f"project-{first['project_id']}"]
    # and the key is held in the DynamoDB idempotency table, completed
    records = ddb.scan(TableName=IDEM)["Items"]
    assert len(records) == 1 and records[0]["status"]["S"] == "COMPLETED"
    # A key is per user: another user's request with the same key is its own write
    other_status, other = call({"name": "幂等项目"}, "key-1", user="bob")
    assert other_status == 201 and other["project_id"] != first["project_id"]
    # Without a key every request writes
    assert call({"name": "no key"}, None)[0] == 201
    assert len(project_streams(ddb)) == 3


def test_the_same_key_for_another_request_is_a_422_naming_the_header(ddb) -> None:
    assert call({"name": "one"}, "key-2")[0] == 201
    status, body = call({"name": "two"}, "key-2")
    assert status == 422 and body["field"] == "Idempotency-Key" and body["error"] == "idempotency_key_reused"
    assert len(project_streams(ddb)) == 1


def test_a_failed_request_is_not_remembered(ddb) -> None:
    # Given a request refused for its body (an empty name) with a key
    status, body = call({"name": ""}, "key-3")
    assert status == 422 and body["field"] == "name"
    assert ddb.scan(TableName=IDEM)["Items"] == []
    # When it is corrected and retried with the same key, Then it goes through
    status, body = call({"name": "fixed"}, "key-3")
    assert status == 201 and project_streams(ddb) == [f"project-{body['project_id']}"]
