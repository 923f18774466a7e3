"""Blob store on Amazon S3. See DESIGN.md §4.

Keys in the bucket::

    sha256/<hex>                      verified blobs (metadata: sha256, size)
    uploads/<upload_id>               staging key of the S3 multipart upload (then its result)
    upload-manifests/<upload_id>.json our upload id -> S3 UploadId, expected size/sha256, part size

Clients PUT parts straight to S3 with presigned ``UploadPart`` URLs. Completion checks the part
layout and total size, completes the multipart upload into the *staging* key, hashes it by
streaming, and only then copies it server-side (boto3's managed copy: multipart copy above the
threshold) to ``sha256/<hex>``: nothing under ``sha256/`` is ever unverified. Completion is
retry-safe (a crash after S3 completed the staging object resumes at the hash step).
On AWS the API calls the fast :meth:`S3BlobStore.join_parts`; an ``ObjectCreated`` trigger on
``uploads/`` runs :meth:`S3BlobStore.complete_upload` (hash + copy). Uploads above
``hash_max_bytes`` are verified by S3's composite CRC32 instead of a hash pass (``checksums``).
Per-part checksums (``part_crc32``): ``ChecksumAlgorithm=CRC32`` (COMPOSITE) uploads whose part
URLs carry ``x-amz-sdk-checksum-algorithm`` / ``x-amz-checksum-crc32`` as SigV4 *signed headers*
(never hoisted into the query string, where S3 ignores them): the client sends exactly those
headers (``PartTarget.headers``) and S3 answers 400 BadDigest for a part whose bytes differ.
Bucket lifecycle (infra): AbortIncompleteMultipartUpload on ``uploads/`` and expiry of
``upload-manifests/`` after a few days (completed manifests only serve retried completions).
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from typing import Any

from botocore.exceptions import ClientError

from domain.errors import Conflict, Invalid, NotFound
from runtime.adapters.fs.blob_rules import (
    CHECKSUM_ALGORITHM,
    S3_MIN_PART_BYTES,
    UPLOAD_ID_RE,
    BlobUpload,
    check_key,
    check_new_upload,
    check_part_checksum,
    check_part_data,
    check_part_number,
    check_parts_before_join,
    check_range,
    check_upload_id,
    content_disposition,
    crc32_b64,
    staging_key,
)
from runtime.adapters.s3 import checksums
from runtime.ports import PartTarget

_CHUNK = 8 * 1024 * 1024
MANIFEST_PREFIX = "upload-manifests/"


def _code(err: ClientError) -> str:
    return str(err.response.get("Error", {}).get("Code", ""))


def _presign_upload_part_with_sigv4(signature_version: str, context: Any = None, **_: Any) -> str | None:
    """botocore presigns S3 URLs with legacy SigV2 unless the client was configured otherwise;
    SigV2 moves x-amz-* headers into the query string. Part URLs must be SigV4 so that the
    checksum headers are signed headers (``choose-signer`` handler on the client's own events)."""
    return "s3v4" if (context or {}).get("is_presign_request") else None


def _missing(err: ClientError) -> bool:
    return _code(err) in ("404", "NoSuchKey", "NotFound", "NoSuchUpload")


class S3BlobStore:
    def __init__(
        self,
        s3_client: Any,
        bucket: str,
        *,
        min_part_bytes: int = S3_MIN_PART_BYTES,
        max_part_bytes: int = 64 * 1024 * 1024,
        url_ttl_s: int = 3600,
        copy_threshold_bytes: int = 1024**3,
        hash_max_bytes: int = 1024**3,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``hash_max_bytes``: larger uploads must declare part CRC32s and are verified by S3's
        checksums instead of a sha256 pass (``runtime.adapters.s3.checksums``)."""
        from boto3.s3.transfer import TransferConfig  # boto3 only when an S3 store is built

        if min_part_bytes < S3_MIN_PART_BYTES:
            raise ValueError("S3 requires parts of at least 5 MiB (all but the last)")
        self.s3 = s3_client
        self.bucket = bucket
        self.min_part_bytes = min_part_bytes
        self.max_part_bytes = max_part_bytes
        self.url_ttl_s = url_ttl_s
        self.hash_max_bytes = hash_max_bytes
        self._clock = clock
        s3_client.meta.events.register_first(
            "choose-signer.s3.UploadPart", _presign_upload_part_with_sigv4, unique_id="tlm-upload-part-sigv4"
        )
        # below the threshold one CopyObject; above it, multipart copy (CopyObject stops at 5 GB)
        self._copy_config = TransferConfig(
            multipart_threshold=copy_threshold_bytes,
            multipart_chunksize=min(copy_threshold_bytes, 512 * 1024**2),
        )

    # ------------------------------------------------------------ upload state

    def _manifest_key(self, upload_id: str) -> str:
        return f"{MANIFEST_PREFIX}{check_upload_id(upload_id)}.json"

    def _read_manifest(self, upload_id: str) -> dict[str, Any]:
        try:
            body = self.s3.get_object(Bucket=self.bucket, Key=self._manifest_key(upload_id))["Body"]
        except ClientError as err:
            if _missing(err):
                raise NotFound(f"no upload {upload_id}", field="upload_id") from None
            raise
        return dict(json.loads(body.read()))

    def _write_manifest(self, upload_id: str, manifest: dict[str, Any]) -> None:
        self.s3.put_object(
            Bucket=self.bucket,
            Key=self._manifest_key(upload_id),
            Body=json.dumps(manifest).encode(),
            ContentType="application/json",
        )

    @staticmethod
    def _upload(upload_id: str, m: dict[str, Any]) -> BlobUpload:
        return BlobUpload(
            upload_id=upload_id,
            key=staging_key(upload_id),
            part_size=m["part_size"],
            expected_size=m["expected_size"],
            expected_sha256=m["expected_sha256"],
            created_at=m["created_at"],
            completed_key=m.get("completed_key"),
            part_crc32=tuple(m["part_crc32"]) if m.get("part_crc32") is not None else None,
        )

    def _open(self, upload_id: str) -> tuple[BlobUpload, str]:
        m = self._read_manifest(upload_id)
        if m.get("completed_key"):
            raise Conflict("upload already completed", field="upload_id")
        return self._upload(upload_id, m), m["s3_upload_id"]

    def create_upload(
        self,
        *,
        expected_size: int,
        expected_sha256: str,
        part_size: int,
        part_crc32: Sequence[str] | None = None,
    ) -> BlobUpload:
        crcs = check_new_upload(
            expected_size,
            expected_sha256,
            part_size,
            min_part=self.min_part_bytes,
            max_part=self.max_part_bytes,
            part_crc32=part_crc32,
        )
        if crcs is None and expected_size > self.hash_max_bytes:
            raise Invalid(f"uploads over {self.hash_max_bytes} bytes must declare part CRC32s", field="part_crc32")
        upload_id = secrets.token_hex(16)
        extra: dict[str, Any] = {"ChecksumAlgorithm": CHECKSUM_ALGORITHM} if crcs is not None else {}
        created = self.s3.create_multipart_upload(
            Bucket=self.bucket,
            Key=staging_key(upload_id),
            ContentType="application/octet-stream",
            Metadata={"sha256": expected_sha256, "size": str(expected_size), "upload-id": upload_id},
            **extra,
        )
        manifest: dict[str, Any] = {
            "s3_upload_id": created["UploadId"],
            "expected_size": expected_size,
            "expected_sha256": expected_sha256,
            "part_size": part_size,
            "created_at": self._clock(),
        }
        if crcs is not None:
            manifest["part_crc32"] = list(crcs)
        self._write_manifest(upload_id, manifest)
        return self._upload(upload_id, manifest)

    def get_upload(self, upload_id: str) -> BlobUpload:
        """The upload with its parts so far (for resuming)."""
        m = self._read_manifest(upload_id)
        up = self._upload(upload_id, m)
        return up if up.completed_key else replace(up, parts=self.list_parts(upload_id))

    def list_uploads(self) -> list[BlobUpload]:
        """Open uploads (S3 multipart uploads under ``uploads/`` with a manifest), oldest first."""
        found = []
        for page in self.s3.get_paginator("list_multipart_uploads").paginate(Bucket=self.bucket, Prefix="uploads/"):
            for item in page.get("Uploads", []):
                upload_id = item["Key"].removeprefix("uploads/")
                if not UPLOAD_ID_RE.fullmatch(upload_id):
                    continue
                try:
                    m = self._read_manifest(upload_id)
                except NotFound:
                    continue
                if m["s3_upload_id"] == item["UploadId"] and not m.get("completed_key"):
                    found.append(self._upload(upload_id, m))
        return sorted(found, key=lambda u: u.created_at)

    def part_targets(self, upload_id: str, part_numbers: Sequence[int]) -> list[PartTarget]:
        up, s3_id = self._open(upload_id)
        targets = []
        for n in part_numbers:
            check_part_number(up, n)
            params: dict[str, Any] = {"Bucket": self.bucket, "Key": up.key, "UploadId": s3_id, "PartNumber": n}
            if up.part_crc32 is not None:  # signed headers: S3 checks the bytes against them
                params["ChecksumAlgorithm"] = CHECKSUM_ALGORITHM
                params["ChecksumCRC32"] = up.part_crc32[n - 1]
            url = self.s3.generate_presigned_url("upload_part", Params=params, ExpiresIn=self.url_ttl_s)
            targets.append(PartTarget(part_number=n, url=url, headers=up.part_headers(n)))
        return targets

    def upload_part(self, upload_id: str, part_number: int, data: bytes, *, checksum_crc32: str | None = None) -> str:
        up, s3_id = self._open(upload_id)
        check_part_number(up, part_number)
        check_part_data(up, part_number, len(data), min_part=self.min_part_bytes, max_part=self.max_part_bytes)
        crc = crc32_b64(data)
        check_part_checksum(up, part_number, crc, checksum_crc32)
        extra: dict[str, Any] = {}
        if up.part_crc32 is not None:
            extra = {"ChecksumAlgorithm": CHECKSUM_ALGORITHM, "ChecksumCRC32": crc}
        try:
            res = self.s3.upload_part(
                Bucket=self.bucket, Key=up.key, UploadId=s3_id, PartNumber=part_number, Body=data, **extra
            )
        except ClientError as err:
            if _missing(err):
                raise NotFound(f"no upload {upload_id}", field="upload_id") from None
            if _code(err) in ("BadDigest", "InvalidDigest"):
                raise Invalid(f"S3 rejected part {part_number}: {_code(err)}", field="part") from None
            raise
        return str(res["ETag"]).strip('"')

    def _s3_parts(self, key: str, s3_id: str) -> dict[int, dict[str, Any]]:
        parts: dict[int, dict[str, Any]] = {}
        for page in self.s3.get_paginator("list_parts").paginate(Bucket=self.bucket, Key=key, UploadId=s3_id):
            for p in page.get("Parts", []):
                parts[p["PartNumber"]] = {"size": p["Size"], "etag": str(p["ETag"]).strip('"')}
        return parts

    def list_parts(self, upload_id: str) -> dict[int, dict[str, Any]]:
        m = self._read_manifest(upload_id)
        if m.get("completed_key"):
            return {}
        try:
            return self._s3_parts(staging_key(upload_id), m["s3_upload_id"])
        except ClientError as err:
            if _missing(err):
                return {}  # completed into staging by an interrupted completion
            raise

    def _staging_exists(self, key: str) -> bool:
        try:
            self.s3.head_object(Bucket=self.bucket, Key=key)
            return True
        except ClientError as err:
            if _missing(err):
                return False
            raise

    def join_parts(self, upload_id: str) -> None:
        """First half of completion, fast enough for an API call: check the part layout and
        sizes, then CompleteMultipartUpload into the staging key ``uploads/<id>``. The slow half
        (hash, copy) is :meth:`complete_upload`, which an S3 ObjectCreated trigger on
        ``uploads/`` can run with the id from :func:`upload_id_from_staging_key`. No-op if the
        parts were already joined; Invalid (upload left open) if the layout is wrong."""
        m = self._read_manifest(upload_id)
        up = self._upload(upload_id, m)
        if up.completed_key or self._staging_exists(up.key):
            return
        parts = self._s3_parts(up.key, m["s3_upload_id"])
        sizes = {n: p["size"] for n, p in parts.items()}
        check_parts_before_join(up, sizes, min_part=self.min_part_bytes, max_part=self.max_part_bytes)
        listed = [{"PartNumber": n, "ETag": parts[n]["etag"]} for n in sorted(parts)]
        if up.part_crc32 is not None:  # S3 requires each part's checksum for such uploads
            listed = [{**p, "ChecksumCRC32": up.part_crc32[p["PartNumber"] - 1]} for p in listed]
        try:
            self.s3.complete_multipart_upload(
                Bucket=self.bucket, Key=up.key, UploadId=m["s3_upload_id"], MultipartUpload={"Parts": listed}
            )
        except ClientError as err:
            if _code(err) in ("EntityTooSmall", "InvalidPart", "InvalidPartOrder", "BadDigest", "InvalidRequest"):
                raise Invalid(f"S3 rejected the parts: {_code(err)}", field="part") from None
            raise

    def complete_upload(self, upload_id: str) -> str:
        m = self._read_manifest(upload_id)
        up = self._upload(upload_id, m)
        if up.completed_key:
            if self.exists(up.completed_key):
                return up.completed_key
            raise NotFound("upload was completed but its blob is gone", field="upload_id")
        self.join_parts(upload_id)  # no-op when a previous attempt or the API already joined
        if up.part_crc32 is not None and up.expected_size > self.hash_max_bytes:  # no hash pass
            size, reported = checksums.stored_checksum(self.s3, self.bucket, up.key)
            ok = checksums.matches(checksums.expected_composite(up.part_crc32), reported)
            field, verified_by = "size" if size != up.expected_size else "part_crc32", "crc32-composite"
        else:
            size, digest = self._hash(up.key)
            ok = digest == up.expected_sha256
            field, verified_by = "size" if size != up.expected_size else "sha256", "sha256"
        if size != up.expected_size or not ok:
            self._discard(upload_id, up.key)
            raise Invalid(f"content does not match the expected {field}", field=field)
        target = up.target_key
        if not self.exists(target):  # same content already stored: completion is idempotent
            # metadata (sha256, size, upload-id) and content type come along from the staging key
            # The copy gets a checksum of its own (S3 computes it; a composite per-part checksum
            # describes the staging object's part layout, not the copy's).
            extra = {"ChecksumAlgorithm": CHECKSUM_ALGORITHM} if up.part_crc32 is not None else None
            self.s3.copy(
                {"Bucket": self.bucket, "Key": up.key}, self.bucket, target, ExtraArgs=extra, Config=self._copy_config
            )
        self._write_manifest(upload_id, {**m, "completed_key": target, "verified_by": verified_by})
        self.s3.delete_object(Bucket=self.bucket, Key=up.key)
        return target

    def _hash(self, key: str) -> tuple[int, str]:
        body = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"]
        digest, size = hashlib.sha256(), 0
        try:
            for chunk in body.iter_chunks(chunk_size=_CHUNK):
                digest.update(chunk)
                size += len(chunk)
        finally:
            body.close()
        return size, digest.hexdigest()

    def _discard(self, upload_id: str, key: str) -> None:
        self.s3.delete_object(Bucket=self.bucket, Key=key)
        self.s3.delete_object(Bucket=self.bucket, Key=self._manifest_key(upload_id))

    def abort_upload(self, upload_id: str) -> None:
        """Abort the multipart upload and drop its staging object and manifest (no-op if gone)."""
        try:
            m = self._read_manifest(upload_id)
        except NotFound:
            return
        try:
            self.s3.abort_multipart_upload(Bucket=self.bucket, Key=staging_key(upload_id), UploadId=m["s3_upload_id"])
        except ClientError as err:
            if not _missing(err):
                raise
        self._discard(upload_id, staging_key(upload_id))

    # ------------------------------------------------------------ blobs

    def exists(self, key: str) -> bool:
        try:
            self.s3.head_object(Bucket=self.bucket, Key=check_key(key))
            return True
        except ClientError as err:
            if _missing(err):
                return False
            raise

    def size(self, key: str) -> int:
        try:
            return int(self.s3.head_object(Bucket=self.bucket, Key=check_key(key))["ContentLength"])
        except ClientError as err:
            if _missing(err):
                raise NotFound(f"no blob {key}", field="key") from None
            raise

    def open_range(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        first, last = check_range(self.size(key), start, end)
        if last < first:
            return iter(())
        try:
            body = self.s3.get_object(Bucket=self.bucket, Key=key, Range=f"bytes={first}-{last}")["Body"]
        except ClientError as err:
            if _missing(err):
                raise NotFound(f"no blob {key}", field="key") from None
            raise

        def chunks() -> Iterator[bytes]:
            try:
                yield from body.iter_chunks(chunk_size=1024 * 1024)
            finally:
                body.close()

        return chunks()

    def download_url(self, key: str, *, filename: str | None = None, expires_s: int = 3600) -> str:
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": check_key(key)}
        if filename:
            params["ResponseContentDisposition"] = content_disposition(filename)
        return str(self.s3.generate_presigned_url("get_object", Params=params, ExpiresIn=expires_s))

    def delete(self, key: str) -> None:
        self.s3.delete_object(Bucket=self.bucket, Key=check_key(key))
