"""One blob-store contract, run against local files and S3 (moto): identical test names,
``test_x[fs]`` and ``test_x[s3]``.

Parts travel the way a client sends them: on S3 by HTTP PUT to the presigned UploadPart URL
(moto intercepts ``requests``); locally the test plays the local server: it verifies the
signed part URL and hands the body to ``upload_part``.
"""

from __future__ import annotations

import base64
import hashlib
import random
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlsplit

import boto3
import pytest
import requests
from moto import mock_aws

from domain.errors import Conflict, Invalid, NotFound, TooLarge
from runtime.adapters.fs.blob_rules import upload_id_from_staging_key
from runtime.adapters.fs.blob_store import LocalBlobStore
from runtime.adapters.s3.blob_store import S3BlobStore

pytestmark = pytest.mark.contract

MiB = 1024 * 1024
PART = 5 * MiB
BUCKET = "tlm-blobs-test"
BASE_URL = "http://127.0.0.1:8765"


@dataclass
class Harness:
    kind: str
    store: Any
    tmp: Path
    s3: Any = None

    def reopen(self) -> Any:
        """A fresh adapter over the same storage (a restarted server)."""
        if self.kind == "fs":
            return LocalBlobStore(self.tmp / "blobs", BASE_URL, self.tmp / "secret.key", max_part_bytes=6 * MiB)
        return S3BlobStore(self.s3, BUCKET, max_part_bytes=6 * MiB)

    def put_part(self, upload_id: str, n: int, data: bytes) -> str:
        """PUT one part the way ``tlm.client`` does: the target's method, URL and headers."""
        (target,) = self.store.part_targets(upload_id, [n])
        assert target.part_number == n and target.method == "PUT"
        if self.kind == "s3":
            resp = requests.put(target.url, data=data, headers=target.headers, timeout=30)
            assert resp.status_code == 200, resp.text
            return str(resp.headers["ETag"]).strip('"')
        url = urlsplit(target.url)
        assert f"{url.scheme}://{url.netloc}" == BASE_URL
        signed = self.store.verify("PUT", url.path, dict(parse_qsl(url.query)))
        sent = target.headers.get("x-amz-checksum-crc32")
        return str(self.store.upload_part(signed.upload_id, signed.part_number, data, checksum_crc32=sent))

    def fetch(self, url: str) -> tuple[bytes, str]:
        """Follow a download URL: (body, the filename the response would name)."""
        if self.kind == "s3":
            resp = requests.get(url, timeout=30)
            assert resp.status_code == 200
            return resp.content, resp.headers.get("Content-Disposition", "")
        u = urlsplit(url)
        target = self.store.verify("GET", u.path, dict(parse_qsl(u.query)))
        return b"".join(self.store.open_range(target.key)), target.filename or ""

    def visible_blobs(self) -> list[str]:
        if self.kind == "fs":
            return sorted(f"sha256/{p.name}" for p in (self.tmp / "blobs" / "sha256").iterdir())
        listed = self.s3.list_objects_v2(Bucket=BUCKET, Prefix="sha256/")
        return sorted(o["Key"] for o in listed.get("Contents", []))


@pytest.fixture(params=["fs", "s3"])
def h(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    if request.param == "fs":
        harness = Harness("fs", None, tmp_path)
        harness.store = harness.reopen()
        yield harness
        return
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        harness = Harness("s3", None, tmp_path, s3)
        harness.store = harness.reopen()
        yield harness


def blob(size: int, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(size)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def chunks(data: bytes, part: int = PART) -> list[bytes]:
    return [data[i : i + part] for i in range(0, len(data), part)]


def crc32(data: bytes) -> str:
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


def upload_all(
    h: Harness,
    data: bytes,
    *,
    expected_sha: str | None = None,
    expected_size: int | None = None,
    checksums: bool = False,
) -> str:
    up = h.store.create_upload(
        expected_size=len(data) if expected_size is None else expected_size,
        expected_sha256=expected_sha or sha(data),
        part_size=PART,
        part_crc32=[crc32(c) for c in chunks(data)] if checksums else None,
    )
    for n, part in enumerate(chunks(data), start=1):
        h.put_part(up.upload_id, n, part)
    return str(up.upload_id)


def test_multipart_upload_of_four_parts_round_trips(h: Harness) -> None:
    # Given 3 full 5 MiB parts and a short last one
    data = blob(3 * PART + 12_345, seed=1)
    up = h.store.create_upload(expected_size=len(data), expected_sha256=sha(data), part_size=PART)
    assert up.key == f"uploads/{up.upload_id}" and up.part_size == PART
    # When every part is sent to its part URL and the upload completed
    etags = {n: h.put_part(up.upload_id, n, part) for n, part in enumerate(chunks(data), start=1)}
    assert len(etags) == 4
    assert h.visible_blobs() == []  # nothing visible before completion
    key = h.store.complete_upload(up.upload_id)
    # Then the blob is stored under its sha256, whole
    assert key == f"sha256/{sha(data)}"
    assert h.store.exists(key) and h.store.size(key) == len(data)
    assert hashlib.sha256(b"".join(h.store.open_range(key))).hexdigest() == sha(data)
    assert h.visible_blobs() == [key]
    assert up.upload_id not in [u.upload_id for u in h.store.list_uploads()]


def test_wrong_sha256_is_rejected_with_nothing_visible(h: Harness) -> None:
    data = blob(200_000, seed=2)
    claimed = sha(b"something else")
    upload_id = upload_all(h, data, expected_sha=claimed)
    with pytest.raises(Invalid) as err:
        h.store.complete_upload(upload_id)
    assert err.value.field == "sha256"
    assert h.visible_blobs() == []
    assert not h.store.exists(f"sha256/{claimed}") and not h.store.exists(f"sha256/{sha(data)}")
    assert upload_id not in [u.upload_id for u in h.store.list_uploads()]


def test_wrong_size_is_rejected_with_nothing_visible(h: Harness) -> None:
    data = blob(200_000, seed=3)
    upload_id = upload_all(h, data, expected_size=len(data) + 1)
    with pytest.raises(Invalid) as err:
        h.store.complete_upload(upload_id)
    assert err.value.field == "size"
    assert h.visible_blobs() == []
    h.store.abort_upload(upload_id)


def test_abort_removes_the_upload_and_its_parts(h: Harness) -> None:
    data = blob(PART + 10, seed=4)
    upload_id = upload_all(h, data)
    assert set(h.store.list_parts(upload_id)) == {1, 2}
    h.store.abort_upload(upload_id)
    assert upload_id not in [u.upload_id for u in h.store.list_uploads()]
    for call in (h.store.list_parts, h.store.complete_upload, lambda i: h.store.part_targets(i, [1])):
        with pytest.raises(NotFound):
            call(upload_id)
    h.store.abort_upload(upload_id)  # aborting twice is a no-op
    assert h.visible_blobs() == []


def test_interrupted_upload_is_listed_and_resumed(h: Harness) -> None:
    # Given an upload interrupted after parts 1 and 3 of 4
    data = blob(3 * PART + 777, seed=5)
    parts = chunks(data)
    up = h.store.create_upload(expected_size=len(data), expected_sha256=sha(data), part_size=PART)
    h.put_part(up.upload_id, 1, parts[0])
    h.put_part(up.upload_id, 3, parts[2])
    # When a restarted process looks for it
    store = h.reopen()
    (found,) = [u for u in store.list_uploads() if u.expected_sha256 == sha(data)]
    assert (found.upload_id, found.expected_size, found.part_size) == (up.upload_id, len(data), PART)
    have = store.list_parts(found.upload_id)
    assert have == {n: {"size": PART, "etag": hashlib.md5(parts[n - 1]).hexdigest()} for n in (1, 3)}
    assert store.get_upload(found.upload_id).parts == have
    with pytest.raises(Invalid) as err:  # completing with a gap is refused, the upload stays open
        store.complete_upload(found.upload_id)
    assert err.value.field == "parts"
    # Then it sends only the missing parts and completes
    for n in sorted(set(range(1, len(parts) + 1)) - set(have)):
        h.put_part(found.upload_id, n, parts[n - 1])
    key = store.complete_upload(found.upload_id)
    assert b"".join(store.open_range(key)) == data


def test_range_download_first_middle_and_last_bytes(h: Harness) -> None:
    data = blob(300_000, seed=6)
    key = h.store.complete_upload(upload_all(h, data))
    read = lambda s, e=None: b"".join(h.store.open_range(key, s, e))  # noqa: E731
    assert read(0, 9) == data[:10]
    assert read(1000, 123_456) == data[1000:123_457]
    assert read(len(data) - 1, len(data) - 1) == data[-1:]
    assert read(len(data) - 5) == data[-5:]
    assert read(299_990, 10**9) == data[299_990:]  # an end past the last byte is clamped
    for start, end in ((len(data), None), (-1, 5), (10, 9)):
        with pytest.raises(Invalid) as err:
            h.store.open_range(key, start, end)
        assert err.value.field == "range"


def test_download_url_serves_the_blob_with_its_filename(h: Harness) -> None:
    data = blob(50_000, seed=7)
    key = h.store.complete_upload(upload_all(h, data))
    body, disposition = h.fetch(h.store.download_url(key, filename="模型/weights.safetensors"))
    assert body == data
    assert "weights.safetensors" in disposition and "/" not in disposition.replace("UTF-8''", "")


def test_delete_removes_the_blob(h: Harness) -> None:
    data = blob(10_000, seed=8)
    key = h.store.complete_upload(upload_all(h, data))
    h.store.delete(key)
    assert not h.store.exists(key)
    with pytest.raises(NotFound):
        h.store.size(key)
    with pytest.raises(NotFound):
        h.store.open_range(key)
    h.store.delete(key)  # deleting twice is a no-op
    assert h.visible_blobs() == []


def test_completion_is_idempotent_and_deduplicates(h: Harness) -> None:
    data = blob(20_000, seed=9)
    first, second = upload_all(h, data), upload_all(h, data)
    key = h.store.complete_upload(first)
    assert h.store.complete_upload(second) == key
    assert h.store.complete_upload(first) == key  # a retried completion
    assert h.visible_blobs() == [key]
    with pytest.raises(Conflict):
        h.store.upload_part(first, 1, data)


BAD_KEYS = [
    "../secret.key",
    "sha256/../../etc/passwd",
    "sha256/" + "A" * 64,
    "sha256/" + "g" * 64,
    "/sha256/" + "a" * 64,
    "sha256/" + "a" * 63,
    "sha256/" + "a" * 64 + "\n",
    "sha256\\" + "a" * 64,
    "uploads/" + "a" * 32,
    "",
]
BAD_IDS = ["../" + "a" * 29, "A" * 32, "a" * 31, "a" * 33, "a" * 32 + "/..", "", "a" * 31 + "\x00"]


def test_bad_keys_and_upload_ids_are_rejected(h: Harness) -> None:
    for key in BAD_KEYS:
        for call in (h.store.exists, h.store.size, h.store.open_range, h.store.delete, h.store.download_url):
            with pytest.raises(Invalid) as err:
                call(key)
            assert err.value.field == "key", (call, key)
    for upload_id in BAD_IDS:
        for call in (
            h.store.list_parts,
            h.store.complete_upload,
            h.store.abort_upload,
            lambda i: h.store.upload_part(i, 1, b"x"),
            lambda i: h.store.part_targets(i, [1]),
        ):
            with pytest.raises(Invalid) as err:
                call(upload_id)
            assert err.value.field == "upload_id"


def test_bad_upload_parameters_are_rejected(h: Harness) -> None:
    good = sha(b"x")
    for kwargs, field in (
        ({"expected_size": 0}, "size"),
        ({"expected_sha256": "ab"}, "sha256"),
        ({"part_size": PART - 1}, "part_size"),
    ):
        with pytest.raises(Invalid) as err:
            h.store.create_upload(**{"expected_size": 10, "expected_sha256": good, "part_size": PART, **kwargs})
        assert err.value.field == field
    with pytest.raises(TooLarge):
        h.store.create_upload(expected_size=10, expected_sha256=good, part_size=7 * MiB)
    up = h.store.create_upload(expected_size=2 * PART, expected_sha256=good, part_size=PART)
    for n in (0, 3):
        with pytest.raises(Invalid) as err:
            h.store.part_targets(up.upload_id, [n])
        assert err.value.field == "part_number"
    with pytest.raises(TooLarge) as too_large:
        h.store.upload_part(up.upload_id, 2, bytes(6 * MiB + 1))
    assert too_large.value.field == "part"
    with pytest.raises(Invalid) as small:  # only the last part may be under 5 MiB
        h.store.upload_part(up.upload_id, 1, bytes(MiB))
    assert small.value.field == "part"
    assert h.store.list_parts(up.upload_id) == {}


def test_parts_with_announced_crc32_carry_checksum_headers_and_round_trip(h: Harness) -> None:
    # Given an upload started with the CRC32 of each of its 3 parts
    data = blob(2 * PART + 4321, seed=11)
    crcs = [crc32(c) for c in chunks(data)]
    up = h.store.create_upload(expected_size=len(data), expected_sha256=sha(data), part_size=PART, part_crc32=crcs)
    # When the part targets are asked for
    targets = h.store.part_targets(up.upload_id, [1, 2, 3])
    # Then each names the headers to send, the same on both backends
    for t, c in zip(targets, crcs, strict=True):
        assert t.headers == {"x-amz-sdk-checksum-algorithm": "CRC32", "x-amz-checksum-crc32": c}
        if h.kind == "s3":  # SigV4, the checksum headers signed (not hoisted into the query)
            q = parse_qs(urlsplit(t.url).query)
            assert q["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
            assert set(q["X-Amz-SignedHeaders"][0].split(";")) >= {
                "host", "x-amz-checksum-crc32", "x-amz-sdk-checksum-algorithm"
            }  # fmt: skip
            assert "x-amz-checksum-crc32" not in q
    # And the parts sent with those headers complete into the verified blob
    for n, part in enumerate(chunks(data), start=1):
        h.put_part(up.upload_id, n, part)
    h.store.join_parts(up.upload_id)
    if h.kind == "s3":  # the multipart object carries a composite CRC32 of the part checksums
        attrs = h.s3.get_object_attributes(Bucket=BUCKET, Key=up.key, ObjectAttributes=["Checksum"])
        assert attrs["Checksum"]["ChecksumType"] == "COMPOSITE" and attrs["Checksum"]["ChecksumCRC32"]
    key = h.store.complete_upload(up.upload_id)
    assert key == f"sha256/{sha(data)}" and b"".join(h.store.open_range(key)) == data


def test_corrupted_part_is_refused_and_the_upload_resumes(h: Harness) -> None:
    # Given an upload with announced part CRC32s and a good first part
    data = blob(PART + 999, seed=12)
    parts = chunks(data)
    upload_id = h.store.create_upload(
        expected_size=len(data), expected_sha256=sha(data), part_size=PART, part_crc32=[crc32(c) for c in parts]
    ).upload_id
    h.put_part(upload_id, 1, parts[0])
    corrupted = bytes([parts[1][0] ^ 1]) + parts[1][1:]
    # When part 2 arrives corrupted, with the stale (announced) checksum or none at all
    for sent in (crc32(parts[1]), None):
        with pytest.raises(Invalid) as err:
            h.store.upload_part(upload_id, 2, corrupted, checksum_crc32=sent)
        assert err.value.field == "part"
    # or with a header that matches the corrupted bytes but not the announced CRC32
    with pytest.raises(Invalid) as err:
        h.store.upload_part(upload_id, 2, corrupted, checksum_crc32=crc32(corrupted))
    assert err.value.field == "part"
    # Then nothing of it is stored, and a restarted process resumes with the right bytes
    store = h.reopen()
    assert set(store.list_parts(upload_id)) == {1}
    (target,) = store.part_targets(upload_id, [2])
    assert target.headers["x-amz-checksum-crc32"] == crc32(parts[1])
    h.put_part(upload_id, 2, parts[1])
    key = store.complete_upload(upload_id)
    assert b"".join(store.open_range(key)) == data


def test_announced_part_crc32_must_fit_the_upload(h: Harness) -> None:
    data = blob(PART + 1, seed=13)
    good = [crc32(c) for c in chunks(data)]
    for bad in (good[:1], [*good, good[0]], ["AAAA", good[1]], ["!!!!!!==", good[1]], "AAAAAA=="):
        with pytest.raises(Invalid) as err:
            h.store.create_upload(expected_size=len(data), expected_sha256=sha(data), part_size=PART, part_crc32=bad)
        assert err.value.field == "part_crc32"
    assert h.store.list_uploads() == []


@mock_aws
def test_s3_completion_splits_into_a_fast_join_and_a_trigger_side_verify() -> None:
    # Given an S3 upload whose parts the API joined (fast) before a crash or a hand-off
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket=BUCKET)
    store = S3BlobStore(s3, BUCKET, max_part_bytes=6 * MiB)
    data = blob(PART + 99, seed=10)
    up = store.create_upload(expected_size=len(data), expected_sha256=sha(data), part_size=PART)
    for n, part in enumerate(chunks(data), start=1):
        store.upload_part(up.upload_id, n, part)
    store.join_parts(up.upload_id)
    store.join_parts(up.upload_id)  # joining twice is a no-op
    assert s3.list_objects_v2(Bucket=BUCKET, Prefix="sha256/")["KeyCount"] == 0
    # When the trigger sees the staging object and completes
    staged = s3.head_object(Bucket=BUCKET, Key=up.key)
    assert staged["Metadata"]["upload-id"] == up.upload_id
    key = S3BlobStore(s3, BUCKET).complete_upload(upload_id_from_staging_key(up.key))
    # Then the verified blob carries its checksum and the staging object is gone
    assert s3.head_object(Bucket=BUCKET, Key=key)["Metadata"]["sha256"] == sha(data)
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="uploads/").get("Contents", [])] == []
