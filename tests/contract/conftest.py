"""Adapters under contract: each fixture yields one implementation per param; test names are
identical for every adapter (``test_x[sqlite]``, ``test_x[dynamodb]``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from runtime.adapters.sqlite.db import Database
from runtime.adapters.sqlite.event_store import SqliteEventStore

pytestmark = pytest.mark.contract


@pytest.fixture(params=["sqlite"])
def event_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[object]:
    if request.param == "sqlite":
        db = Database(tmp_path / "events.db")
        yield SqliteEventStore(db)
        db.close()
