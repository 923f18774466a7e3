"""Job logs into the blob store: when a job ends (completed, failed, stopped), its log file is
stored as a verified, content-addressed blob and a ``job.log_archived`` event on stream
``job-<name>`` says where. Live tailing reads the job's own log file (JobRunner.logs)."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from domain.errors import ConcurrencyConflict
from domain.jobs import JobLogArchived
from domain.records import NewEvent
from runtime.services.commands import Caller

ARCHIVER = Caller(user_id="system:jobs")


def stream_id(job: str) -> str:
    return f"job-{job}"


class JobLogArchive:
    def __init__(self, store: Any, artifacts: Any) -> None:
        self.store = store
        self.artifacts = artifacts

    def sink(self, name: str, log_path: Path, status: Any) -> None:
        """LocalJobRunner log sink: runs once per finished job."""
        if not Path(log_path).exists():
            return
        ref = self.artifacts.put_file(log_path)
        evt = JobLogArchived(job=name, state=status.state, blob=ref["blob"], size=ref["size"], sha256=ref["sha256"])
        with contextlib.suppress(ConcurrencyConflict):  # once per job: a re-run sink changes nothing
            self.store.append(stream_id(name), [NewEvent.of(evt, ARCHIVER.metadata())], 0)

    def archived(self, name: str) -> dict[str, Any] | None:
        records = self.store.read(stream_id(name))
        return dict(records[0].data) if records else None
