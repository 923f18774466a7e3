"""Local API tokens. On first start a default user ``local`` gets a token written to
``<data_dir>/token`` (0600). Tokens are stored only as sha256 digests."""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import threading
from pathlib import Path

DEFAULT_USER = "local"


class TokenBook:
    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / "tokens.json"
        self.token_file = data_dir / "token"
        self._lock = threading.Lock()
        self._digests: dict[str, str] = {}
        self._mtime = 0.0
        self._reload()

    def _reload(self) -> None:
        """Pick up tokens issued by another process (``tlm token issue``)."""
        try:
            mtime = self.path.stat().st_mtime
        except FileNotFoundError:
            return
        if mtime != self._mtime:
            self._digests = json.loads(self.path.read_text())
            self._mtime = mtime

    @staticmethod
    def _digest(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()

    def issue(self, user_id: str) -> str:
        token = "tlm_" + secrets.token_urlsafe(32)
        with self._lock:
            self._reload()
            self._digests[self._digest(token)] = user_id
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(self._digests, indent=1))
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)
        return token

    def ensure_default(self) -> str:
        """The default local user's token (created on first start)."""
        if self.token_file.exists():
            token = self.token_file.read_text().strip()
            if self.user_of(token):
                return token
        token = self.issue(DEFAULT_USER)
        fd = os.open(self.token_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(token + "\n")
        return token

    def user_of(self, token: str | None) -> str | None:
        if not token:
            return None
        digest = self._digest(token)
        if digest not in self._digests:
            self._reload()
        return self._digests.get(digest)
