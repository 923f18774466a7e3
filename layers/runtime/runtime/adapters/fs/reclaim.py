"""Reclaim the temp files a crashed writer left in the local blob store.

Every temp file the store writes is named ``.<name>.<12 hex>.tmp`` next to its target (a part
being received, a join in progress, an atomic ``meta.json`` rewrite) and is renamed or removed
when the write ends; one that is still there after a crash (kill -9 mid-part, mid-join) is
garbage. A file counts as abandoned once it has not been written for ``older_than_s``: a live
write touches its file with every chunk, and the local server times out a stalled client long
before that. ``build_local`` sweeps at startup; ``sweep`` can be called any time.
"""

from __future__ import annotations

import logging
import re
import time
from pathlib import Path

log = logging.getLogger(__name__)
TEMP_NAME = re.compile(r"^\.[^/]+\.[0-9a-f]{12}\.tmp$")
DEFAULT_GRACE_S = 15 * 60


def reclaim_temp_files(root: Path, *, older_than_s: float = DEFAULT_GRACE_S, now: float | None = None) -> list[Path]:
    """Remove abandoned temp files under ``root``; returns what was removed."""
    now = time.time() if now is None else now
    removed: list[Path] = []
    if not root.is_dir():
        return removed
    for path in root.rglob(".*.tmp"):
        if not TEMP_NAME.match(path.name):
            continue
        try:
            if not path.is_file() or now - path.stat().st_mtime < older_than_s:
                continue
            path.unlink()
        except FileNotFoundError:
            continue  # its writer finished meanwhile
        removed.append(path)
    if removed:
        log.info("reclaimed %d abandoned temp file(s) under %s", len(removed), root)
    return removed
