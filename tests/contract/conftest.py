"""Adapters under contract: each fixture yields one implementation per param; test names are
identical for every adapter (``test_x[sqlite]``, ``test_x[dynamodb]``).

DynamoDB runs on moto behind a serial local server (see ``_moto``), started once per session;
each test gets its own table and bucket.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import _moto  # tests/contract is on sys.path (rootdir-relative conftest import)
import pytest

from runtime.adapters.sqlite.db import Database
from runtime.adapters.sqlite.event_store import SqliteEventStore

pytestmark = pytest.mark.contract


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    with _moto.serial_moto_server() as url:
        yield url


@pytest.fixture(scope="session")
def aws_clients(moto_endpoint: str) -> tuple[Any, Any]:
    return _moto.clients(moto_endpoint)


@pytest.fixture(params=["sqlite", "dynamodb"])
def event_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    if request.param == "sqlite":
        db = Database(tmp_path / "events.db")
        yield SqliteEventStore(db)
        db.close()
    else:
        from runtime.adapters.dynamodb.event_store import DynamoDbEventStore

        dynamodb, s3 = request.getfixturevalue("aws_clients")
        name = f"events-{uuid.uuid4().hex[:12]}"
        _moto.create_events_table(dynamodb, name)
        s3.create_bucket(Bucket=name)
        yield DynamoDbEventStore(dynamodb, s3, name, name)
        dynamodb.delete_table(TableName=name)
