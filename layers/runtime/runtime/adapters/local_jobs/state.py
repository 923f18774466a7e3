"""Job-directory state files and process identity (Linux /proc).

``status.json`` is the runner's record (written atomically); ``exit.json`` the supervisor's.
A process is "ours" only if its pid is alive AND its start time (field 22 of
/proc/<pid>/stat) and the boot id match what we recorded: pids get reused.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, ensure_ascii=False, indent=1, default=str)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def read_json(path: Path) -> dict[str, Any] | None:
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


def boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def process_start_ticks(pid: int) -> int | None:
    """Start time of ``pid`` in clock ticks since boot, None if there is no such process."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (OSError, ValueError):
        return None
    # comm (field 2) may hold spaces and parentheses: split after the last ')'.
    fields = raw[raw.rfind(")") + 2 :].split()
    if fields and fields[0] == "Z":  # zombie: exited, not yet reaped
        return None
    try:
        return int(fields[19])  # field 22 overall; fields[0] is field 3
    except (IndexError, ValueError):
        return None


def same_process_alive(pid: int | None, start_ticks: int | None, recorded_boot: str | None) -> bool:
    if not pid or start_ticks is None:
        return False
    if recorded_boot and recorded_boot != boot_id():
        return False
    return process_start_ticks(pid) == start_ticks
