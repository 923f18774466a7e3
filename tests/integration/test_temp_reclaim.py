"""Temp files left by a crashed part upload or join are reclaimed (at startup and by a sweep);
live ones, finished parts and blobs stay."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from runtime.adapters.fs.blob_store import LocalBlobStore
from runtime.adapters.fs.reclaim import reclaim_temp_files
from runtime.bootstrap import build_local
from runtime.settings import Settings

pytestmark = pytest.mark.integration
KB = 1024


def store(root: Path) -> LocalBlobStore:
    return LocalBlobStore(
        root, "http://127.0.0.1:1", root.parent / "secret.key", min_part_bytes=KB, max_part_bytes=64 * KB
    )


def test_a_part_upload_killed_mid_write_leaves_a_temp_file_that_is_reclaimed(tmp_path):
    root = tmp_path / "blobs"
    data = os.urandom(3 * KB)
    up = store(root).create_upload(
        expected_size=len(data), expected_sha256=hashlib.sha256(data).hexdigest(), part_size=2 * KB
    )
    # Given a process killed (SIGKILL) while it streams a part into the store
    code = f"""
import sys, time
sys.path[:0] = {sys.path!r}
from pathlib import Path
from runtime.adapters.fs.blob_store import LocalBlobStore
root, key = Path({str(root)!r}), Path({str(tmp_path / "secret.key")!r})
s = LocalBlobStore(root, "http://127.0.0.1:1", key, min_part_bytes=1024, max_part_bytes=65536)
def chunks():
    yield b"x" * 1024
    print("writing", flush=True)
    time.sleep(60)
    yield b"x" * 1024
s.upload_part({up.upload_id!r}, 1, chunks())
"""
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
    assert proc.stdout.readline().strip() == b"writing"
    proc.kill()
    proc.wait()
    updir = root / "uploads" / up.upload_id
    left = [p for p in updir.iterdir() if p.name.endswith(".tmp")]
    assert len(left) == 1
    # a part that finished, and a temp file still being written, are not touched
    store(root).upload_part(up.upload_id, 2, data[2 * KB :])
    live = updir / ".part-00003.0123456789ab.tmp"
    live.write_bytes(b"fresh")
    old = time.time() - 3600
    os.utime(left[0], (old, old))
    # When the platform starts again, Then the abandoned temp file is gone and the rest stays
    c = build_local(Settings(data_dir=tmp_path, min_part_bytes=KB))
    c.close()
    assert not left[0].exists() and live.exists()
    assert (updir / "part-00002").exists() and (updir / "meta.json").exists()
    # and a later sweep takes the other one once it is old too
    assert reclaim_temp_files(root, now=time.time() + 3600) == [live]


def test_a_crashed_join_temp_is_reclaimed_and_the_upload_still_completes(tmp_path):
    root = tmp_path / "blobs"
    s = store(root)
    data = os.urandom(3 * KB)
    up = s.create_upload(expected_size=len(data), expected_sha256=hashlib.sha256(data).hexdigest(), part_size=2 * KB)
    s.upload_part(up.upload_id, 1, data[: 2 * KB])
    s.upload_part(up.upload_id, 2, data[2 * KB :])
    stale = root / "uploads" / up.upload_id / ".join.a1b2c3d4e5f6.tmp"  # as a kill -9 mid-join leaves it
    stale.write_bytes(data[:100])
    other = root / "uploads" / up.upload_id / "notes.tmp"  # not a name the store writes
    other.write_bytes(b"keep")
    assert reclaim_temp_files(root, older_than_s=0) == [stale]
    assert other.exists()
    key = s.complete_upload(up.upload_id)
    assert b"".join(s.open_range(key)) == data
