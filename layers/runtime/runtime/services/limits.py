"""Per-project limits (``domain.limits``): read them, let an owner change them, and check a
model's size, an upload's size and job slots against them.

Defaults come from the settings (``TLM_LIMIT_MAX_PARAMS``, ``TLM_LIMIT_MAX_TRAIN_MEMORY_BYTES``,
``TLM_LIMIT_STORAGE_BYTES``, ``TLM_LIMIT_MAX_JOBS``, ``TLM_LIMIT_MAX_JOBS_PER_USER``); a
project's owner overrides any of them (``PUT /projects/{id}/limits``), recorded as
``project.limits_set`` in the project's ``projectlimits-<id>`` stream.

Uploads: the new file's size plus the bytes the project's models and datasets already hold and
the declared sizes of their open uploads must fit the storage quota (``TooLarge``, field ``size``, the message naming
``limits.storage_bytes``); locally it must also fit the free disk space, twice over (the parts
and the joined file exist at once while an upload completes) plus a reserve.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from domain.errors import TooLarge
from domain.jobqueue import Caps
from domain.limits import LIMITS, Estimate, ProjectLimits, SetLimits, check_model
from runtime.ports import EventStore, ViewStore
from runtime.services.access import Access
from runtime.services.commands import Caller, execute, load

DISK_RESERVE = 256 * 1024 * 1024  # bytes left free for the database and logs


def _gib(n: int) -> str:
    return f"{n / 1024**3:.2f} GiB"


class LimitsService:
    def __init__(
        self,
        store: EventStore,
        views: ViewStore,
        defaults: ProjectLimits,
        *,
        free_bytes: Callable[[], int] | None = None,
        catch_up: Callable[[], None] | None = None,
    ) -> None:
        self.store = store
        self.views = views
        self.defaults = defaults
        self.free_bytes = free_bytes
        self.catch_up = catch_up  # local read-your-writes: the models view before summing it
        self.access = Access(store)

    def of(self, project_id: str) -> ProjectLimits:
        state, _ = load(self.store, LIMITS, project_id)
        return self.defaults.with_overrides(state.as_dict())

    def caps(self, project_id: str) -> Caps:
        lim = self.of(project_id)
        return Caps(max_jobs=lim.max_jobs, max_jobs_per_user=lim.max_jobs_per_user)

    # ---------------------------------------------------------------- API
    def get(self, caller: Caller, project_id: str) -> dict[str, Any]:
        self.access.require(caller, project_id, "viewer")
        files, uploads = self.usage(project_id)
        return {
            "project_id": project_id,
            "limits": self.of(project_id).to_dict(),
            "storage_used": files + uploads,  # what the quota is checked against
            "storage_in_open_uploads": uploads,
        }

    def set(self, caller: Caller, project_id: str, limits: Any) -> dict[str, Any]:
        project = self.access.require(caller, project_id, "viewer")
        is_owner = project.role_of(caller.user_id) == "owner"
        execute(
            self.store, LIMITS, project_id, SetLimits(project_id=project_id, limits=limits, is_owner=is_owner), caller
        )
        return self.get(caller, project_id)

    # ---------------------------------------------------------------- checks
    def check_model(self, project_id: str, values: dict[str, Any]) -> Estimate:
        """TooLarge naming the limit when the config's model would exceed the project's limits."""
        return check_model(values, self.of(project_id))

    def usage(self, project_id: str) -> tuple[int, int]:
        """(bytes the project's files hold, declared sizes of its open uploads)."""
        if self.catch_up is not None:
            self.catch_up()
        files = uploads = 0
        for _, row in self.views.scan("models"):
            if row.get("project_id") == project_id:
                files += sum(f if isinstance(f, int) else f.get("size", 0) for f in row.get("files", {}).values())
                uploads += sum(row.get("uploads", {}).values())
        return files, uploads

    def used(self, project_id: str) -> int:
        """Stored files plus open uploads (what they will hold once completed), so uploads started
        in parallel cannot together pass the quota."""
        return sum(self.usage(project_id))

    def check_upload(self, project_id: str, size: int) -> None:
        quota = self.of(project_id).storage_bytes
        if size > quota:
            raise TooLarge(
                f"the file ({size:,} bytes) is larger than the project's storage quota limits.storage_bytes "
                f"({quota:,} bytes)",
                field="size",
            )
        files, uploads = self.usage(project_id)
        if files + uploads + size > quota:
            pending = f" plus {_gib(uploads)} in open uploads" if uploads else ""
            raise TooLarge(
                f"the project holds {_gib(files)}{pending} of its {_gib(quota)} storage quota (limits.storage_bytes); "
                f"this file ({_gib(size)}) does not fit: delete files, abort uploads or ask the owner to raise "
                "the quota",
                field="size",
            )
        if self.free_bytes is not None:
            free = self.free_bytes()
            if 2 * size + DISK_RESERVE > free:
                raise TooLarge(
                    f"the server's disk has {_gib(free)} free; uploading {_gib(size)} needs about "
                    f"{_gib(2 * size + DISK_RESERVE)} (parts and the joined file, plus a reserve)",
                    field="size",
                )
