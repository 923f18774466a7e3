"""``configs``: one row per live config (``config_id``), folded by ``domain.configs.listing``.
A project's list filters on ``project_id`` (a config's edit events do not name the project, so
the row key cannot)."""

from __future__ import annotations

from collections.abc import Sequence

from domain.configs.listing import config_row
from domain.projection import Row
from domain.records import RecordedEvent
from runtime import projections


class ConfigsView:
    view = "configs"

    def keys(self, event: RecordedEvent) -> Sequence[str]:
        return [event.data["config_id"]] if event.type.startswith("config.") and "config_id" in event.data else []

    def apply(self, key: str, row: Row | None, event: RecordedEvent) -> Row | None:
        return config_row(row, event)


CONFIGS = projections.register(ConfigsView())
