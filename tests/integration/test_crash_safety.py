"""Crash safety of the SQLite store and the local projector: SIGKILL a process that is appending
multi-event batches (with its projector thread catching up), then reopen the database and check
that no partial commit is visible and that the views are exactly a fold of the log."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

import pytest
from _crash_writer import ITEMS, NAMES, PROJECTIONS

from domain.projection import fold_all
from runtime.adapters.sqlite.db import Database
from runtime.adapters.sqlite.event_store import SqliteEventStore
from runtime.adapters.sqlite.views import LocalProjector, SqliteViewStore

pytestmark = pytest.mark.integration

WRITER = Path(__file__).with_name("_crash_writer.py")


def run_and_kill(db_path: Path, seed: int, after_s: float) -> None:
    child = subprocess.Popen(
        [sys.executable, str(WRITER), str(db_path), str(seed)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = child.stdout.readline()  # type: ignore[union-attr]
        assert line.strip() == "appending", child.stderr.read()  # type: ignore[union-attr]
        time.sleep(after_s)
        assert child.poll() is None, child.stderr.read()  # type: ignore[union-attr]
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
    assert child.returncode == -signal.SIGKILL


@pytest.mark.parametrize("seed", [1, 2])
def test_sigkill_mid_append_leaves_no_partial_commit_and_views_rebuild_the_same(
    tmp_path: Path, seed: int
) -> None:
    # Given a writer killed while appending batches and projecting (default synchronous=FULL)
    db_path = tmp_path / "tlm.db"
    run_and_kill(db_path, seed, after_s=random.Random(seed).uniform(0.3, 0.8))

    # When the store is reopened
    db = Database(db_path)
    try:
        conn = db.connection()
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        store = SqliteEventStore(db)
        log = store.read_all(limit=10**9)
        assert len(log) > 20

        # Then every stream is gapless 1..N and every batch is all there or not at all
        per_stream: dict[str, list[int]] = defaultdict(list)
        batches: dict[str, list[tuple[str, int]]] = defaultdict(list)
        for e in log:
            per_stream[e.stream_id].append(e.version)
            batches[e.data["batch"]].append((e.stream_id, e.version))
        for stream, versions in per_stream.items():
            assert versions == list(range(1, len(versions) + 1)), stream
        sizes = Counter({b: len(v) for b, v in batches.items()})
        for e in log:
            assert sizes[e.data["batch"]] == e.data["size"], e.data["batch"]
        for members in batches.values():
            streams = {s for s, _ in members}
            versions = sorted(v for _, v in members)
            assert len(streams) == 1 and versions == list(range(versions[0], versions[0] + len(versions)))

        # And the views the child left are exactly the fold of the log up to its tracking position
        views = SqliteViewStore(db)
        projector = LocalProjector(db, views, PROJECTIONS)
        positions = projector.positions()
        for p in PROJECTIONS:
            upto = [e for e in log if (e.position or 0) <= positions[p.view]]
            assert dict(views.scan(p.view)) == fold_all(p, upto), p.view

        # And catching up from the surviving position equals a rebuild equals the full fold
        projector.catch_up()
        caught_up = {v: dict(views.scan(v)) for v in (ITEMS, NAMES)}
        assert caught_up == {p.view: fold_all(p, log) for p in PROJECTIONS}
        projector.rebuild()
        assert {v: dict(views.scan(v)) for v in (ITEMS, NAMES)} == caught_up
    finally:
        db.close()
