"""Facts about jobs the platform keeps after the job directory is gone."""

from __future__ import annotations

from domain.events import DomainEvent, event


@event("job.log_archived")
class JobLogArchived(DomainEvent):
    """A finished job's whole log, stored as a content-addressed blob (stream ``job-<name>``)."""

    job: str
    state: str
    blob: str
    size: int
    sha256: str
