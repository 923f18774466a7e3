"""Rules every blob store obeys, kept in one place (pure: stdlib only, no I/O).

Both adapters (local files and S3) import these so that keys, upload ids, part layout and
verification failures are judged the same way everywhere.
"""

from __future__ import annotations

import base64
import binascii
import re
import unicodedata
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import quote

from domain.errors import Invalid, TooLarge
from runtime.ports import Upload

KEY_RE = re.compile(r"^sha256/[0-9a-f]{64}$")
SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
UPLOAD_ID_RE = re.compile(r"^[0-9a-f]{32}$")  # secrets.token_hex(16)
S3_MIN_PART_BYTES = 5 * 1024 * 1024  # S3: every part but the last is at least 5 MiB
S3_MAX_PARTS = 10_000
S3_MAX_PART_BYTES = 5 * 1024**3

# Per-part checksums (S3 "additional checksums"): the client announces the CRC32 of every part
# when it starts an upload; each part URL then carries (S3: signs) these two headers, and a part
# whose bytes do not match its announced CRC32 is refused (S3: 400 BadDigest; locally:
# Invalid(field="part")), never stored. Completion still checks size and sha256 end to end.
CHECKSUM_ALGORITHM = "CRC32"
CHECKSUM_ALGORITHM_HEADER = "x-amz-sdk-checksum-algorithm"
CHECKSUM_HEADER = "x-amz-checksum-crc32"
_CRC32_B64_RE = re.compile(r"^[A-Za-z0-9+/]{6}==$")


@dataclass(frozen=True)
class BlobUpload(Upload):
    """An open (or completed) upload. ``key`` is the staging key ``uploads/<upload_id>``;
    the blob lands at ``target_key`` (``sha256/<expected_sha256>``) once verified."""

    expected_size: int = 0
    expected_sha256: str = ""
    created_at: float = 0.0  # unix seconds
    completed_key: str | None = None
    part_crc32: tuple[str, ...] | None = None  # base64 CRC32 of parts 1..N, when announced

    def part_headers(self, part_number: int) -> dict[str, str]:
        """Headers a client sends with this part (empty for uploads without checksums)."""
        if self.part_crc32 is None:
            return {}
        return {CHECKSUM_ALGORITHM_HEADER: CHECKSUM_ALGORITHM, CHECKSUM_HEADER: self.part_crc32[part_number - 1]}

    @property
    def target_key(self) -> str:
        return f"sha256/{self.expected_sha256}"

    @property
    def part_count(self) -> int:
        return part_count(self.expected_size, self.part_size)


def crc32_b64(data: bytes | bytearray | memoryview, crc: int = 0) -> str:
    """S3's encoding of a CRC32 checksum: base64 of the 4 big-endian bytes."""
    return base64.b64encode(zlib.crc32(data, crc).to_bytes(4, "big")).decode()


def encode_crc32(crc: int) -> str:
    return base64.b64encode(crc.to_bytes(4, "big")).decode()


def check_part_crc32(part_crc32: Sequence[str] | None, expected_size: int, part_size: int) -> tuple[str, ...] | None:
    """One base64 CRC32 per part (S3's encoding), exactly as many as the upload has parts."""
    if part_crc32 is None:
        return None
    values = tuple(part_crc32) if isinstance(part_crc32, list | tuple) else None
    count = part_count(expected_size, part_size)
    if values is None or len(values) != count:
        raise Invalid(f"part_crc32 must list one CRC32 per part ({count})", field="part_crc32")
    for v in values:
        if not isinstance(v, str) or not _CRC32_B64_RE.fullmatch(v):
            raise Invalid("part_crc32 values must be base64 of 4 big-endian bytes", field="part_crc32")
        try:
            base64.b64decode(v, validate=True)
        except binascii.Error:
            raise Invalid("part_crc32 values must be base64 of 4 big-endian bytes", field="part_crc32") from None
    return values


def check_part_checksum(upload: BlobUpload, part_number: int, actual: str, sent: str | None = None) -> None:
    """The part's bytes must match the CRC32 announced at start and the one the client sent
    (when it sent one): else Invalid(field="part") and the caller stores nothing."""
    expected = upload.part_crc32[part_number - 1] if upload.part_crc32 is not None else None
    if sent is not None and expected is not None and sent != expected:
        raise Invalid(f"part {part_number}: checksum header differs from the announced CRC32", field="part")
    for want in (expected, sent):
        if want is not None and actual != want:
            raise Invalid(f"part {part_number}: CRC32 {actual} does not match {want}", field="part")


def check_key(key: str) -> str:
    if not isinstance(key, str) or not KEY_RE.fullmatch(key):
        raise Invalid("blob key must be sha256/<64 lowercase hex digits>", field="key")
    return key


def check_upload_id(upload_id: str) -> str:
    if not isinstance(upload_id, str) or not UPLOAD_ID_RE.fullmatch(upload_id):
        raise Invalid("malformed upload id", field="upload_id")
    return upload_id


def staging_key(upload_id: str) -> str:
    return f"uploads/{check_upload_id(upload_id)}"


def upload_id_from_staging_key(key: str) -> str:
    """``uploads/<upload_id>`` -> ``<upload_id>`` (Invalid for anything else), e.g. for an S3
    ObjectCreated event on the staging key."""
    prefix, _, upload_id = key.partition("/")
    if prefix != "uploads":
        raise Invalid("not a staging key", field="key")
    return check_upload_id(upload_id)


def part_count(expected_size: int, part_size: int) -> int:
    return max(1, -(-expected_size // part_size))


def check_new_upload(
    expected_size: int,
    expected_sha256: str,
    part_size: int,
    *,
    min_part: int,
    max_part: int,
    part_crc32: Sequence[str] | None = None,
) -> tuple[str, ...] | None:
    """Validate a new upload; returns the per-part CRC32s (a tuple) or None."""
    if not isinstance(expected_sha256, str) or not SHA256_RE.fullmatch(expected_sha256):
        raise Invalid("expected sha256 must be 64 lowercase hex digits", field="sha256")
    if not isinstance(expected_size, int) or expected_size < 1:
        raise Invalid("expected size must be a positive number of bytes", field="size")
    if not isinstance(part_size, int) or part_size < min_part:
        raise Invalid(f"part size must be at least {min_part} bytes", field="part_size")
    if part_size > max_part:
        raise TooLarge(f"part size must be at most {max_part} bytes", field="part_size")
    if part_count(expected_size, part_size) > S3_MAX_PARTS:
        raise TooLarge(f"at most {S3_MAX_PARTS} parts: use larger parts", field="size")
    return check_part_crc32(part_crc32, expected_size, part_size)


def check_part_number(upload: BlobUpload, part_number: int) -> int:
    if not isinstance(part_number, int) or isinstance(part_number, bool) or not 1 <= part_number <= upload.part_count:
        raise Invalid(f"part number must be 1..{upload.part_count}", field="part_number")
    return part_number


def check_part_data(upload: BlobUpload, part_number: int, length: int, *, min_part: int, max_part: int) -> None:
    """Early checks on one part (the same rules are applied again at completion)."""
    if length > max_part:
        raise TooLarge(f"a part may hold at most {max_part} bytes", field="part")
    if part_number < upload.part_count and length < min_part:
        raise Invalid(f"every part but the last must hold at least {min_part} bytes", field="part")


def check_parts_before_join(upload: BlobUpload, sizes: dict[int, int], *, min_part: int, max_part: int) -> None:
    """Parts must be 1..N without gaps, within size limits, and add up to the expected size.
    Failing here leaves the upload open: the client may re-send parts or abort."""
    if not sizes:
        raise Invalid("no parts uploaded", field="parts")
    last = max(sizes)
    missing = [n for n in range(1, last + 1) if n not in sizes]
    if missing:
        raise Invalid(f"missing parts: {missing[:20]}", field="parts")
    for n, size in sizes.items():
        if size > max_part:
            raise TooLarge(f"part {n} holds {size} bytes, more than {max_part}", field="part")
        if n < last and size < min_part:
            raise Invalid(f"part {n} holds {size} bytes; all but the last need {min_part}", field="part")
    total = sum(sizes.values())
    if total != upload.expected_size:
        raise Invalid(f"parts add up to {total} bytes, expected {upload.expected_size}", field="size")


def check_range(size: int, start: int, end: int | None) -> tuple[int, int]:
    """HTTP Range semantics: inclusive ``end``, clamped to the last byte. Returns (start, end);
    end = start - 1 means an empty read (only for an empty blob)."""
    if start < 0 or (end is not None and end < start):
        raise Invalid("bad byte range", field="range")
    last = size - 1
    if size == 0 and start == 0:
        return 0, -1
    if start > last:
        raise Invalid(f"range starts past the end ({size} bytes)", field="range")
    return start, last if end is None else min(end, last)


_UNSAFE_FILENAME = re.compile(r'[\x00-\x1f\x7f"\\/:*?<>|;]')


def safe_filename(filename: str) -> str:
    """Last path component, without control characters or quoting hazards."""
    name = unicodedata.normalize("NFC", filename).replace("\\", "/").rsplit("/", 1)[-1]
    name = _UNSAFE_FILENAME.sub("_", name).strip(" .")
    return name[:255] or "download"


def content_disposition(filename: str) -> str:
    """``attachment`` with an ASCII fallback and the UTF-8 name per RFC 6266 / RFC 5987."""
    name = safe_filename(filename)
    ascii_name = name.encode("ascii", "replace").decode("ascii").replace("?", "_")
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"
