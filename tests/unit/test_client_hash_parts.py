"""tlm.client.hash_parts: sha256 of the whole file + CRC32 of every part (computed in parallel)."""

from __future__ import annotations

import base64
import hashlib
import os
import zlib
from pathlib import Path

import pytest

from tlm.client import hash_parts

pytestmark = pytest.mark.unit


def _reference(data: bytes, part_size: int) -> tuple[str, list[str]]:
    chunks = [data[i : i + part_size] for i in range(0, len(data), part_size)] or [b""]
    return hashlib.sha256(data).hexdigest(), [
        base64.b64encode(zlib.crc32(c).to_bytes(4, "big")).decode() for c in chunks
    ]


@pytest.mark.parametrize("size", [0, 1, 4, 5, 6, 10, 11, 23])
def test_hash_parts_matches_a_single_pass_reference(tmp_path: Path, size: int) -> None:
    # Given a file whose size falls before, on and after part boundaries
    data = os.urandom(size)
    path = tmp_path / "f.bin"
    path.write_bytes(data)
    seen: list[int] = []
    # When it is hashed with 5-byte parts
    sha, crcs = hash_parts(path, 5, seen.append)
    # Then the sha256 and per-part CRC32s match a plain one-pass computation; progress covers the file
    assert (sha, crcs) == _reference(data, 5)
    assert sum(seen) == size


def test_hash_parts_on_parts_larger_than_a_read_chunk(tmp_path: Path) -> None:
    data = os.urandom(9 * 1024 * 1024 + 3)
    path = tmp_path / "f.bin"
    path.write_bytes(data)
    assert hash_parts(path, 5 * 1024 * 1024) == _reference(data, 5 * 1024 * 1024)
