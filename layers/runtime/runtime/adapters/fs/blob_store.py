"""Blob store on the local filesystem (the embedded default). See DESIGN.md §4.

Layout under ``root`` (``<data_dir>/blobs``)::

    sha256/<hex>                       verified blobs, written once, never modified
    uploads/<upload_id>/meta.json      expected size/sha256, part size, per-part CRC32s, completion
    uploads/<upload_id>/part-00001     one file per part (atomic replace), + part-00001.md5

Part URLs have the S3 shape but point at the local server:
``{base_url}/uploads/<id>/parts/<n>?expires=..&sig=..``; the server calls :meth:`verify`
and then :meth:`upload_part`. An upload started with per-part CRC32s gets the same part headers
as on S3 (``x-amz-sdk-checksum-algorithm``, ``x-amz-checksum-crc32``), and a part whose bytes do
not match its announced CRC32 is refused (Invalid, field ``part``) and not stored. Completion
hashes while joining the parts into a temp file on the same filesystem, fsyncs, and
``os.replace``s it into ``sha256/<hex>``: a blob is visible whole and verified, or not at all.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import secrets
import shutil
import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from domain.errors import Conflict, Forbidden, Invalid, NotFound, TooLarge
from runtime.adapters.fs.blob_rules import (
    S3_MIN_PART_BYTES,
    BlobUpload,
    check_key,
    check_new_upload,
    check_part_checksum,
    check_part_data,
    check_part_number,
    check_parts_before_join,
    check_range,
    check_upload_id,
    encode_crc32,
    safe_filename,
    staging_key,
)
from runtime.adapters.fs.signing import UrlSigner
from runtime.ports import PartTarget

_CHUNK = 1024 * 1024
_JOIN_CHUNK = 8 * 1024 * 1024
_PART_RE = re.compile(r"^part-(\d{5})$")
_PART_ROUTE = re.compile(r"^/uploads/([0-9a-f]{32})/parts/([1-9][0-9]{0,4})$")
_BLOB_ROUTE = re.compile(r"^/blobs/(sha256/[0-9a-f]{64})$")


@dataclass(frozen=True)
class SignedTarget:
    """What a verified local URL points at."""

    kind: Literal["part", "blob"]
    upload_id: str | None = None
    part_number: int | None = None
    key: str | None = None
    filename: str | None = None  # blob downloads: the name for Content-Disposition


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


class LocalBlobStore:
    def __init__(
        self,
        root: Path,
        base_url: str,
        secret_path: Path | None = None,
        *,
        min_part_bytes: int = S3_MIN_PART_BYTES,
        max_part_bytes: int = 64 * 1024 * 1024,
        url_ttl_s: int = 3600,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._root = self.root.resolve()
        (self._root / "sha256").mkdir(exist_ok=True)
        (self._root / "uploads").mkdir(exist_ok=True)
        self.base_url = base_url.rstrip("/")
        self.min_part_bytes = min_part_bytes
        self.max_part_bytes = max_part_bytes
        self.url_ttl_s = url_ttl_s
        self._clock = clock
        self._secret_path = Path(secret_path) if secret_path else self.root.parent / "secret.key"
        self._signer: UrlSigner | None = None  # created lazily: no I/O for stores never signing

    # ------------------------------------------------------------ paths (never escape root)

    def _inside(self, path: Path) -> Path:
        resolved = path.resolve()
        if not resolved.is_relative_to(self._root):
            raise Invalid("path escapes the blob store", field="key")
        return resolved

    def _blob_path(self, key: str) -> Path:
        return self._inside(self._root / check_key(key))

    def _upload_dir(self, upload_id: str) -> Path:
        return self._inside(self._root / staging_key(upload_id))

    @property
    def signer(self) -> UrlSigner:
        if self._signer is None:
            self._signer = UrlSigner.from_file(self._secret_path, clock=self._clock)
        return self._signer

    # ------------------------------------------------------------ upload state

    def _meta(self, upload_id: str) -> BlobUpload:
        try:
            raw = json.loads((self._upload_dir(upload_id) / "meta.json").read_text())
        except FileNotFoundError:
            raise NotFound(f"no upload {upload_id}", field="upload_id") from None
        crcs = raw.pop("part_crc32", None)
        return BlobUpload(
            upload_id=upload_id,
            key=staging_key(upload_id),
            part_crc32=tuple(crcs) if crcs is not None else None,
            **raw,
        )

    def _open_meta(self, upload_id: str) -> BlobUpload:
        meta = self._meta(upload_id)
        if meta.completed_key is not None:
            raise Conflict("upload already completed", field="upload_id")
        return meta

    @contextlib.contextmanager
    def _locked(self, upload_id: str) -> Iterator[Path]:
        updir = self._upload_dir(upload_id)
        try:
            fd = os.open(updir / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        except FileNotFoundError:
            raise NotFound(f"no upload {upload_id}", field="upload_id") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield updir
        finally:
            os.close(fd)

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
        upload_id = secrets.token_hex(16)
        updir = self._upload_dir(upload_id)
        updir.mkdir()
        meta: dict[str, Any] = {
            "expected_size": expected_size,
            "expected_sha256": expected_sha256,
            "part_size": part_size,
            "created_at": self._clock(),
        }
        if crcs is not None:
            meta["part_crc32"] = list(crcs)
        _write_atomic(updir / "meta.json", json.dumps(meta).encode())
        return self._meta(upload_id)

    def get_upload(self, upload_id: str) -> BlobUpload:
        """The upload with its parts so far (for resuming)."""
        meta = self._meta(upload_id)
        return replace(meta, parts=self.list_parts(upload_id) if meta.completed_key is None else {})

    def list_uploads(self) -> list[BlobUpload]:
        """Open (not completed, not aborted) uploads, oldest first, without their parts."""
        found = []
        for entry in (self._root / "uploads").iterdir():
            try:
                meta = self._meta(entry.name)
            except (Invalid, NotFound):
                continue
            if meta.completed_key is None:
                found.append(meta)
        return sorted(found, key=lambda u: u.created_at)

    def part_targets(self, upload_id: str, part_numbers: Sequence[int]) -> list[PartTarget]:
        meta = self._open_meta(upload_id)
        targets = []
        for n in part_numbers:
            check_part_number(meta, n)
            path = f"/uploads/{upload_id}/parts/{n}"
            query = self.signer.sign("PUT", path, expires_s=self.url_ttl_s)
            targets.append(
                PartTarget(part_number=n, url=f"{self.base_url}{path}?{query}", headers=meta.part_headers(n))
            )
        return targets

    def upload_part(
        self,
        upload_id: str,
        part_number: int,
        data: bytes | Iterable[bytes],
        *,
        checksum_crc32: str | None = None,
    ) -> str:
        """Store one part atomically; ``data`` may be bytes or an iterable of chunks (the
        server streams request bodies). Returns the part's etag (md5 hex, as S3 does).
        The part's CRC32 must match the one announced at start and ``checksum_crc32`` (the
        ``x-amz-checksum-crc32`` header) when given: else Invalid(field="part"), nothing stored."""
        meta = self._open_meta(upload_id)
        check_part_number(meta, part_number)
        updir = self._upload_dir(upload_id)
        part = updir / f"part-{part_number:05d}"
        tmp = updir / f".{part.name}.{secrets.token_hex(6)}.tmp"
        md5 = hashlib.md5(usedforsecurity=False)
        size, crc = 0, 0
        try:
            with open(tmp, "wb") as f:
                for chunk in [data] if isinstance(data, bytes | bytearray | memoryview) else data:
                    size += len(chunk)
                    if size > self.max_part_bytes:
                        raise TooLarge(f"a part may hold at most {self.max_part_bytes} bytes", field="part")
                    md5.update(chunk)
                    crc = zlib.crc32(chunk, crc)
                    f.write(chunk)
                check_part_data(meta, part_number, size, min_part=self.min_part_bytes, max_part=self.max_part_bytes)
                check_part_checksum(meta, part_number, encode_crc32(crc), checksum_crc32)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, part)
        except FileNotFoundError:
            raise NotFound(f"no upload {upload_id}", field="upload_id") from None
        finally:
            tmp.unlink(missing_ok=True)
        etag = md5.hexdigest()
        sidecar = {"size": size, "mtime_ns": part.stat().st_mtime_ns, "etag": etag}
        with contextlib.suppress(FileNotFoundError):  # aborted meanwhile: nothing to record
            _write_atomic(updir / f"{part.name}.md5", json.dumps(sidecar).encode())
        return etag

    def list_parts(self, upload_id: str) -> dict[int, dict[str, Any]]:
        updir = self._upload_dir(upload_id)
        self._meta(upload_id)
        parts: dict[int, dict[str, Any]] = {}
        for entry in sorted(updir.iterdir()):
            m = _PART_RE.fullmatch(entry.name)
            if not m:
                continue
            with contextlib.suppress(FileNotFoundError):
                parts[int(m.group(1))] = {"size": entry.stat().st_size, "etag": self._etag(entry)}
        return parts

    def _etag(self, part: Path) -> str:
        st = part.stat()
        try:
            side = json.loads(part.with_name(f"{part.name}.md5").read_text())
            if side["size"] == st.st_size and side["mtime_ns"] == st.st_mtime_ns:
                return str(side["etag"])
        except (FileNotFoundError, ValueError, KeyError):
            pass
        md5 = hashlib.md5(usedforsecurity=False)  # sidecar lost in a crash: recompute
        with open(part, "rb") as f:
            while chunk := f.read(_CHUNK):
                md5.update(chunk)
        return md5.hexdigest()

    def join_parts(self, upload_id: str) -> None:
        """Local completion joins and verifies in one step (complete_upload); this only checks
        the upload exists, so the service's two-step flow is the same on both backends."""
        self._open_meta(upload_id)

    def complete_upload(self, upload_id: str) -> str:
        with self._locked(upload_id) as updir:
            meta = self._meta(upload_id)
            target = meta.target_key
            if meta.completed_key is not None:
                if self.exists(meta.completed_key):
                    return meta.completed_key
                raise NotFound("upload was completed but its blob is gone", field="upload_id")
            sizes = {n: p["size"] for n, p in self._part_sizes(updir).items()}
            check_parts_before_join(meta, sizes, min_part=self.min_part_bytes, max_part=self.max_part_bytes)
            joined = updir / f".join.{secrets.token_hex(6)}.tmp"
            digest = hashlib.sha256()
            buf = bytearray(_JOIN_CHUNK)
            view = memoryview(buf)
            try:
                with open(joined, "wb", buffering=0) as out:
                    for n in sorted(sizes):
                        with open(updir / f"part-{n:05d}", "rb", buffering=0) as f:
                            while got := f.readinto(buf):
                                digest.update(view[:got])
                                done_w = 0
                                while done_w < got:  # raw writes may be short
                                    done_w += out.write(view[done_w:got]) or 0
                    os.fsync(out.fileno())
                if digest.hexdigest() != meta.expected_sha256:
                    shutil.rmtree(updir, ignore_errors=True)  # like S3: the parts are spent
                    raise Invalid("content does not match the expected sha256", field="sha256")
                dest = self._blob_path(target)
                if not dest.exists():  # same content already stored: completion is idempotent
                    os.replace(joined, dest)
                    _fsync_dir(dest.parent)
            finally:
                joined.unlink(missing_ok=True)
            done = {
                "expected_size": meta.expected_size,
                "expected_sha256": meta.expected_sha256,
                "part_size": meta.part_size,
                "created_at": meta.created_at,
                "completed_key": target,
            }
            if meta.part_crc32 is not None:
                done["part_crc32"] = list(meta.part_crc32)
            _write_atomic(updir / "meta.json", json.dumps(done).encode())
            for entry in updir.iterdir():
                if entry.name.startswith("part-"):
                    entry.unlink(missing_ok=True)
            return target

    def _part_sizes(self, updir: Path) -> dict[int, dict[str, int]]:
        return {
            int(m.group(1)): {"size": e.stat().st_size} for e in updir.iterdir() if (m := _PART_RE.fullmatch(e.name))
        }

    def abort_upload(self, upload_id: str) -> None:
        """Remove the upload and its parts (no-op if it is already gone)."""
        updir = self._upload_dir(upload_id)
        if not updir.exists():
            return
        with self._locked(upload_id):
            shutil.rmtree(updir, ignore_errors=True)

    # ------------------------------------------------------------ blobs

    def exists(self, key: str) -> bool:
        return self._blob_path(key).is_file()

    def size(self, key: str) -> int:
        try:
            return self._blob_path(key).stat().st_size
        except FileNotFoundError:
            raise NotFound(f"no blob {key}", field="key") from None

    def open_range(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        path = self._blob_path(key)
        try:
            f = open(path, "rb")  # noqa: SIM115 - closed by the generator
        except FileNotFoundError:
            raise NotFound(f"no blob {key}", field="key") from None
        try:
            first, last = check_range(os.fstat(f.fileno()).st_size, start, end)
        except Exception:
            f.close()
            raise

        def chunks() -> Iterator[bytes]:
            with f:
                f.seek(first)
                left = last - first + 1
                while left > 0 and (chunk := f.read(min(_CHUNK, left))):
                    left -= len(chunk)
                    yield chunk

        return chunks()

    def download_url(self, key: str, *, filename: str | None = None, expires_s: int = 3600) -> str:
        check_key(key)
        path = f"/blobs/{key}"
        params = {"filename": safe_filename(filename)} if filename else {}
        return f"{self.base_url}{path}?{self.signer.sign('GET', path, params, expires_s=expires_s)}"

    def delete(self, key: str) -> None:
        self._blob_path(key).unlink(missing_ok=True)

    # ------------------------------------------------------------ the local server's side

    def verify(self, method: str, path: str, query: dict[str, str]) -> SignedTarget:
        """Check a request on a URL this store signed. ``path`` is the route path
        (``/uploads/<id>/parts/<n>`` or ``/blobs/sha256/<hex>``, no base-URL prefix), ``query``
        the decoded query parameters (one value each). Raises Forbidden (403) otherwise."""
        method = method.upper()
        if m := _PART_ROUTE.fullmatch(path):
            if method != "PUT":
                raise Forbidden("part URLs accept PUT only", field="method")
            self.signer.verify("PUT", path, query)
            return SignedTarget(kind="part", upload_id=check_upload_id(m.group(1)), part_number=int(m.group(2)))
        if m := _BLOB_ROUTE.fullmatch(path):
            if method not in ("GET", "HEAD"):
                raise Forbidden("blob URLs accept GET and HEAD only", field="method")
            params = self.signer.verify("GET", path, query)
            return SignedTarget(kind="blob", key=check_key(m.group(1)), filename=params.get("filename"))
        raise Forbidden("not a signed blob-store URL", field="path")
