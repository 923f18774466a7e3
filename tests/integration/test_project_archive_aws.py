"""A project exported from a local installation imports into the AWS adapters (moto: DynamoDB
events and views tables, S3 blobs) through the same service: the same history, the blobs in S3 by
checksum, and the views the DynamoDB Streams projector builds equal the local ones."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from functions.projector import handler as projector
from runtime import projections as registry
from runtime.bootstrap import Container, build_aws, build_local, set_container
from runtime.services.commands import Caller
from runtime.settings import Settings
from tests.aws_tables import create_events_table, create_idempotency_table, create_views_table
from tests.integration.test_library_aws import Aws
from tests.integration.test_project_archive import OWNER, _archive, _fill, _normal, history_of

pytestmark = pytest.mark.integration

REGION = "us-east-1"
EVENTS, VIEWS, IDEM, BUCKET = "ar-events", "ar-views", "ar-idempotency", "ar-blobs"
COMPARED = ("projects", "memberships", "models", "configs", "pipelines", "project_activity", "blob_refs")


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
        settings = Settings(backend="aws", region=REGION, events_table=EVENTS, views_table=VIEWS,
                            idempotency_table=IDEM, blobs_bucket=BUCKET)  # fmt: skip
        container = build_aws(settings)

        def load_payload(key: str) -> bytes:
            return bytes(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())

        projector.use(projector.Dependencies(container.views, registry.all(), load_payload))
        arn = ddb.describe_table(TableName=EVENTS)["Table"]["LatestStreamArn"]
        try:
            yield Aws(container, ddb, s3, boto3.client("dynamodbstreams", region_name=REGION), arn)
        finally:
            projector.use(None)


def _views(c: Container, pid: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for view in COMPARED:
        rows = (
            c.views.scan_partition(view, pid)
            if view in ("models", "pipelines", "project_activity")
            else c.views.scan(view)
        )
        out[view] = {k: _normal(r) for k, r in rows}
    return out


def test_local_export_imports_into_the_aws_adapters(aws: Aws, tmp_path: Path) -> None:
    # Given a project exported from a local installation
    local = build_local(Settings(data_dir=tmp_path / "local", min_part_bytes=1024))
    try:
        pid = _fill(local, tmp_path)
        info, data = _archive(local, pid)
        local.catch_up()
        # When the archive is imported into the AWS installation and the stream is projected
        set_container(aws.container)
        done = aws.container.project_home.import_(Caller(OWNER), data)
        assert done["events"] == info["events"] and done["blobs"] == 2
        aws.pump()
        # Then history, blobs (by checksum) and views are the same as the local installation's
        assert history_of(aws.container, pid) == history_of(local, pid)
        listed = aws.s3.list_objects_v2(Bucket=BUCKET, Prefix="sha256/").get("Contents", [])
        keys = {o["Key"] for o in listed}
        assert keys == {k for k in _views(local, pid)["blob_refs"]}
        for key in keys:
            body = aws.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
            assert hashlib.sha256(body).hexdigest() == key.removeprefix("sha256/")
        assert _views(aws.container, pid) == _views(local, pid)
    finally:
        set_container(None)
        local.close()
