"""The upload trigger's event handling: only ObjectCreated records on staging keys are verified,
every such record in one event is (a skipped record never ends the loop), and a redelivered
record gets the same answer. Real local container (SQLite, blob files)."""

from __future__ import annotations

import hashlib

import pytest

from functions.triggers.s3_upload import process, s3_event
from runtime.bootstrap import build_local
from runtime.services.commands import Caller
from runtime.settings import Settings

pytestmark = pytest.mark.unit
ALICE = Caller("alice")


def test_only_created_staging_objects_are_verified_each_once_per_record(tmp_path) -> None:
    c = build_local(Settings(data_dir=tmp_path / "data", min_part_bytes=1024))
    try:
        pid = c.library.create_project(ALICE, "p")["project_id"]
        mid = c.library.register_model(ALICE, pid, name="m", family="bert")["model_id"]
        data = b"x" * 2048
        up = c.library.start_upload(ALICE, mid, path="w.bin", size=len(data), sha256=hashlib.sha256(data).hexdigest())
        size = up.get("part_size") or len(data)
        for n in range(1, -(-len(data) // size) + 1):
            c.blobs.upload_part(up["upload_id"], n, data[(n - 1) * size : n * size])
        c.blobs.join_parts(up["upload_id"])  # what S3 does on CompleteMultipartUpload
        c.catch_up()
        (created,) = s3_event("local", f"uploads/{up['upload_id']}")["Records"]
        removed = {**created, "eventName": "ObjectRemoved:Delete"}
        elsewhere = {**created, "s3": {**created["s3"], "object": {**created["s3"]["object"], "key": "sha256/ab"}}}
        # skipped records first: a loop that stopped at them would verify nothing
        results = process({"Records": [removed, elsewhere, created, removed, created]}, c)
        assert [r["upload_id"] for r in results] == [up["upload_id"]] * 2
        assert results[0]["state"] == "completed" and results[1]["state"] == "completed"
        assert [f["path"] for f in c.library.get_model(ALICE, mid)["files"]] == ["w.bin"]
    finally:
        c.close()
