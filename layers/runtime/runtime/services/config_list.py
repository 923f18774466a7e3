"""A project's configs, from the ``configs`` view (``runtime.views.configs``): newest change
first; optionally only one family. Reading needs "read" on the project."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from domain.errors import Invalid
from runtime.ports import ViewStore
from runtime.services.commands import Caller

FAMILIES = ("bert", "roberta", "albert", "electra", "xlnet")


class ConfigListService:
    def __init__(
        self,
        views: ViewStore,
        authorize: Callable[[Caller, str, str], None],
        catch_up: Callable[[], None] = lambda: None,
    ) -> None:
        self.views = views
        self.authorize = authorize
        self.catch_up = catch_up

    def list(self, caller: Caller, project_id: str, *, family: str | None = None) -> list[dict[str, Any]]:
        self.authorize(caller, project_id, "read")
        if family is not None and family not in FAMILIES:
            raise Invalid(f"unknown family {family!r}; expected one of {list(FAMILIES)}", field="family")
        self.catch_up()
        rows = [
            row
            for _, row in self.views.scan("configs")
            if row.get("project_id") == project_id and (family is None or row.get("family") == family)
        ]
        return sorted(rows, key=lambda r: (r["updated"]["at"], r["config_id"]), reverse=True)
