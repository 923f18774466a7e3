"""Reading a job's ``logs.txt``: line tailing from an index, and metric extraction.

Both keep a cursor (line index / byte offset) so that polling a long log stays cheap. A
final line without its newline is held back until the job has ended.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
import threading
from pathlib import Path


class LogFile:
    def __init__(self, path: Path, metric_definitions: list[dict[str, str]]) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._cursor = (0, 0)  # (line index, byte offset) of a line start
        self._metric_offset = 0
        self._metrics: dict[str, float] = {}
        self._defs = [(d["Name"], re.compile(d["Regex"])) for d in metric_definitions]

    def lines(self, start: int = 0, *, final: bool = False) -> tuple[list[str], int]:
        """Complete lines from index ``start``; returns (lines, next start)."""
        start = max(0, start)
        with self._lock:
            idx, off = self._cursor if start >= self._cursor[0] else (0, 0)
            try:
                with open(self.path, "rb") as f:
                    f.seek(off)
                    data = f.read()
            except FileNotFoundError:
                return [], start
            parts = data.split(b"\n")
            tail = parts.pop()  # bytes after the last newline (b"" when data ends with one)
            if final and tail:
                parts.append(tail)
                tail = b""
            out: list[str] = []
            for raw in parts:
                if idx >= start:
                    out.append(raw.decode("utf-8", errors="replace").rstrip("\r"))
                idx += 1
            new_off = off + len(data) - len(tail)
            if idx >= self._cursor[0] and not final:
                self._cursor = (idx, new_off)
            return out, max(idx, start)

    def metrics(self) -> dict[str, float]:
        """Latest value per metric definition (first regex group), read incrementally."""
        if not self._defs:
            return {}
        with self._lock:
            try:
                with open(self.path, "rb") as f:
                    f.seek(self._metric_offset)
                    data = f.read()
            except FileNotFoundError:
                return {}
            cut = data.rfind(b"\n") + 1
            for line in data[:cut].decode("utf-8", errors="replace").splitlines():
                for name, rx in self._defs:
                    m = rx.search(line)
                    if m:
                        with contextlib.suppress(ValueError):
                            self._metrics[name] = float(m.group(1) if m.groups() else m.group(0))
            self._metric_offset += cut
            return dict(self._metrics)


def file_metrics(job_dir: Path) -> dict[str, float]:
    """Flat numeric entries of the job's metrics.json (output/data, output or model dir)."""
    for rel in ("output/data/metrics.json", "output/metrics.json", "model/metrics.json"):
        try:
            data = json.loads((job_dir / rel).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(data, dict):
            return {
                k: float(v)
                for k, v in data.items()
                if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
            }
    return {}
