"""Request bodies of the pipeline and project-home routes (issue 15)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from functions.api.schemas import MAX_INT, Body, Role

MAX_ARCHIVE_BASE64 = 6_000_000  # ~4.5 MB of archive: the body stays under the 6 MiB Lambda/API limit


class PipelineSource(Body):
    """Exactly one of ``file`` (the YAML or JSON text) or ``definition`` (the parsed document)."""

    file: str | None = Field(default=None, max_length=256_000, description="YAML or JSON pipeline file")
    definition: dict[str, Any] | None = Field(default=None, description="the pipeline document (format tlm.pipeline)")


class SavePipeline(PipelineSource):
    expected_version: int | None = Field(
        default=None, ge=1, le=MAX_INT, description="the version you read (409 if not)"
    )


class Invite(Body):
    member: str = Field(min_length=1, max_length=320, description="user id or e-mail")
    role: Role = "viewer"


class TransferOwnership(Body):
    member: str = Field(min_length=1, max_length=320, description="the new owner: user id or e-mail")
    keep_role: Literal["editor", "viewer"] = "editor"


class ImportProject(Body):
    archive_base64: str = Field(
        min_length=1, max_length=MAX_ARCHIVE_BASE64, description="a tlm project archive (.tar.gz)"
    )


class RetryRun(Body):
    """Retry a run: a new run of ``version`` (default: the pipeline's latest) that reuses the outputs of
    unchanged nodes and runs ``from_node`` (default: the failed node) and its descendants again."""

    from_node: str | None = Field(default=None, min_length=1, max_length=40)
    version: int | None = Field(default=None, ge=1, le=MAX_INT)


class CancelRun(Body):
    reason: str = Field(default="", max_length=500)


class ApprovalDecision(Body):
    decision: Literal["approve", "reject"]
    comment: str = Field(default="", max_length=2000)


class TriggerWatch(Body):
    kind: Literal["dataset", "model"]
    id: str = Field(min_length=1, max_length=64, description="the dataset or model id (same project)")


class CreateTrigger(Body):
    """A schedule (``cron``: 5 fields, UTC) or a new version of a dataset or model (``watch``) runs
    ``version`` of the pipeline (default: its latest when it fires). On demand is a run request."""

    kind: Literal["schedule", "new_version"]
    cron: str | None = Field(default=None, min_length=1, max_length=200, description="e.g. 0 3 * * 1-5")
    watch: TriggerWatch | None = None
    version: int | None = Field(default=None, ge=1, le=MAX_INT)
