"""Uploads above ``hash_max_bytes`` are verified by S3's composite CRC32 (one HeadObject), not by
streaming them through the trigger Lambda for a sha256; a part whose bytes differ from the CRC32
the client declared is caught; smaller uploads are still hashed. On moto (see
runtime.adapters.s3.checksums for what moto does and does not check)."""

from __future__ import annotations

import base64
import hashlib
import json
import random
import zlib
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from domain.errors import Invalid
from runtime.adapters.s3.blob_store import S3BlobStore

pytestmark = pytest.mark.integration

MiB = 1024 * 1024
PART = 5 * MiB
BUCKET = "tlm-checksum-blobs"


def crc32(data: bytes) -> str:
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


@pytest.fixture
def s3() -> Iterator[tuple[Any, list[tuple[str, str]]]]:
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        calls: list[tuple[str, str]] = []
        client.meta.events.register(
            "provide-client-params.s3.*", lambda params, model, **_: calls.append((model.name, params.get("Key", "")))
        )
        yield client, calls


def _start(store: S3BlobStore, data: bytes, crcs: list[str] | None) -> Any:
    return store.create_upload(
        expected_size=len(data), expected_sha256=hashlib.sha256(data).hexdigest(), part_size=PART, part_crc32=crcs
    )


def test_a_large_upload_is_verified_by_s3_checksums_without_reading_it(s3: tuple[Any, list]) -> None:
    client, calls = s3
    store = S3BlobStore(client, BUCKET, max_part_bytes=6 * MiB, hash_max_bytes=1 * MiB)
    data = random.Random(1).randbytes(PART + 1234)
    parts = [data[:PART], data[PART:]]
    up = _start(store, data, [crc32(p) for p in parts])
    for n, part in enumerate(parts, start=1):
        store.upload_part(up.upload_id, n, part)
    calls.clear()
    key = store.complete_upload(up.upload_id)
    assert key == f"sha256/{hashlib.sha256(data).hexdigest()}"
    assert client.get_object(Bucket=BUCKET, Key=key)["Body"].read() == data
    staging_reads = [c for c in calls if c[0] == "GetObject" and c[1] == up.key]
    assert staging_reads == []  # no hash pass over the staging object
    assert ("HeadObject", up.key) in calls
    manifest = json.loads(client.get_object(Bucket=BUCKET, Key=f"upload-manifests/{up.upload_id}.json")["Body"].read())
    assert manifest["verified_by"] == "crc32-composite"


def test_a_part_that_differs_from_its_declared_crc32_is_rejected(s3: tuple[Any, list]) -> None:
    client, _ = s3
    store = S3BlobStore(client, BUCKET, max_part_bytes=6 * MiB, hash_max_bytes=1 * MiB)
    data = random.Random(2).randbytes(PART + 99)
    up = _start(store, data, [crc32(data[:PART]), crc32(data[PART:])])
    store.upload_part(up.upload_id, 1, data[:PART])
    # a client PUTs other bytes for part 2 (moto, unlike S3, does not check the signed CRC32)
    manifest = json.loads(client.get_object(Bucket=BUCKET, Key=f"upload-manifests/{up.upload_id}.json")["Body"].read())
    client.upload_part(
        Bucket=BUCKET, Key=up.key, UploadId=manifest["s3_upload_id"], PartNumber=2, Body=b"x" * 99,
        ChecksumAlgorithm="CRC32", ChecksumCRC32=crc32(data[PART:]),
    )  # fmt: skip
    with pytest.raises(Invalid) as err:
        store.complete_upload(up.upload_id)
    assert err.value.field == "part_crc32"
    assert client.list_objects_v2(Bucket=BUCKET, Prefix="sha256/")["KeyCount"] == 0


def test_large_uploads_must_declare_part_crc32_and_small_ones_are_still_hashed(s3: tuple[Any, list]) -> None:
    client, calls = s3
    store = S3BlobStore(client, BUCKET, max_part_bytes=6 * MiB, hash_max_bytes=PART + 1)
    big = random.Random(3).randbytes(PART + 2)
    with pytest.raises(Invalid) as err:
        _start(store, big, None)
    assert err.value.field == "part_crc32"
    small = random.Random(4).randbytes(PART)
    up = _start(store, small, [crc32(small)])
    store.upload_part(up.upload_id, 1, small)
    calls.clear()
    store.complete_upload(up.upload_id)
    assert ("GetObject", up.key) in calls  # hashed
