"""The compiles of a model (``<model_id>/<compile_id>``): lists work on both backends without a
global scan of the log (DynamoDB has none)."""

from __future__ import annotations

from collections.abc import Sequence

from domain.projection import Row
from domain.records import RecordedEvent
from runtime import projections


class CompilesByModelView:
    view = "compiles_by_model"

    def keys(self, event: RecordedEvent) -> Sequence[str]:
        if event.type != "compile.requested":
            return []
        return [f"{event.data['model_id']}/{event.data['compile_id']}"]

    def apply(self, key: str, row: Row | None, event: RecordedEvent) -> Row | None:
        d = event.data
        return {"compile_id": d["compile_id"], "model_id": d["model_id"], "project_id": d["project_id"],
                "at": event.recorded_at.isoformat()}  # fmt: skip


COMPILES_BY_MODEL = projections.register(CompilesByModelView())
