"""HMAC-SHA256 signed URLs for the local server (the local twin of S3 presigned URLs).

A URL is signed over ``v1 \\n METHOD \\n PATH \\n sorted query`` where the query holds every
parameter but ``sig`` (``expires`` included). PATH is the route path the server matches
(``/uploads/<id>/parts/<n>``, ``/blobs/sha256/<hex>``), without any prefix that ``base_url``
may carry. The secret lives in one file (0600), created on first use.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import secrets
import stat
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from urllib.parse import urlencode

from domain.errors import Forbidden

_MAX_TTL_S = 7 * 24 * 3600  # S3's limit for presigned URLs


def load_or_create_secret(path: Path) -> bytes:
    """Read the signing secret, creating it (32 random bytes, hex, mode 0600) if absent.
    Creation is atomic: a racing process either wins or reads the winner's secret."""
    path = Path(path)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_hex(32))
                f.flush()
                os.fsync(f.fileno())
            with contextlib.suppress(FileExistsError):  # another process got there first
                os.link(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        os.chmod(path, 0o600)
    secret = path.read_text().strip()
    if len(secret) < 32:
        raise RuntimeError(f"signing secret in {path} is too short")
    return secret.encode()


class UrlSigner:
    def __init__(self, secret: bytes, *, clock: Callable[[], float] = time.time) -> None:
        if len(secret) < 16:
            raise ValueError("secret too short")
        self._secret = secret
        self._clock = clock

    @classmethod
    def from_file(cls, path: Path, *, clock: Callable[[], float] = time.time) -> UrlSigner:
        return cls(load_or_create_secret(path), clock=clock)

    def _mac(self, method: str, path: str, params: Mapping[str, str]) -> str:
        canonical = "\n".join(["v1", method.upper(), path, urlencode(sorted(params.items()))])
        return hmac.new(self._secret, canonical.encode(), hashlib.sha256).hexdigest()

    def sign(
        self, method: str, path: str, params: Mapping[str, str] | None = None, *, expires_s: int = 3600
    ) -> str:
        """Query string (``a=..&expires=..&sig=..``) that makes ``METHOD path`` valid until
        now + ``expires_s``."""
        if not 1 <= expires_s <= _MAX_TTL_S:
            raise ValueError(f"expires_s must be 1..{_MAX_TTL_S}")
        signed = dict(params or {})
        signed["expires"] = str(int(self._clock()) + expires_s)
        signed["sig"] = self._mac(method, path, signed)
        return urlencode(signed)

    def verify(self, method: str, path: str, query: Mapping[str, str]) -> dict[str, str]:
        """Check signature then expiry; returns the signed parameters (without sig/expires).
        Raises Forbidden (403, like S3) on any failure."""
        params = dict(query)
        sig = params.pop("sig", None)
        expires = params.get("expires")
        if not sig or not expires or not expires.isascii() or not expires.isdigit() or len(expires) > 12:
            raise Forbidden("missing or malformed signature", field="sig")
        expected = self._mac(method, path, params)
        if not hmac.compare_digest(expected.encode(), sig.encode("utf-8", "replace")):
            raise Forbidden("bad signature", field="sig")
        if int(expires) < self._clock():
            raise Forbidden("URL expired", field="expires")
        params.pop("expires")
        return params
