"""Verifying a multi-GB upload without streaming it through a Lambda.

An upload started with its parts' CRC32s is a COMPOSITE CRC32 multipart upload: S3 checks each
part's bytes against the CRC32 signed into its part URL (400 BadDigest otherwise) and, on
completion, records the object's checksum as CRC32 over the concatenated part CRC32s
(``<base64>-<part count>``). ``expected_composite`` computes that value from the CRC32s the client
declared; comparing it with what ``HeadObject(ChecksumMode=ENABLED)`` reports (and the size)
proves the object is exactly the declared parts, at the cost of one request.

What this does not prove is the sha256 the client declared: CRC32 is no cryptographic hash. Blobs
above ``hash_max_bytes`` are therefore stored under the client's sha256 (the same client that
computed the CRC32s from the same bytes) with ``verified_by=crc32-composite`` in the upload
manifest; smaller blobs are still hashed by the trigger (``verified_by=sha256``).

moto 5.2.5 computes the composite from the bytes it actually received (so a part that does not
match its declared CRC32 is detected here, though moto does not reject it at UploadPart) and
reports it without the ``-<count>`` suffix; it computes CRC64NVME FULL_OBJECT checksums only with
``awscrt`` installed (else it silently falls back to CRC32), which is why CRC32 is used.
"""

from __future__ import annotations

import base64
import zlib
from collections.abc import Sequence
from typing import Any


def expected_composite(part_crc32: Sequence[str]) -> str:
    raw = b"".join(base64.b64decode(c) for c in part_crc32)
    return base64.b64encode(zlib.crc32(raw).to_bytes(4, "big")).decode() + f"-{len(part_crc32)}"


def stored_checksum(s3: Any, bucket: str, key: str) -> tuple[int, str | None]:
    """(size, CRC32 checksum as S3 reports it, or None) of an object."""
    head = s3.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    return int(head["ContentLength"]), head.get("ChecksumCRC32")


def matches(expected: str, reported: str | None) -> bool:
    """S3 reports ``<b64>-<n>`` for composite checksums; moto leaves the suffix off."""
    if reported is None:
        return False
    return reported == expected or ("-" not in reported and reported == expected.rsplit("-", 1)[0])
