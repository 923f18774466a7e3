"""Pipelines: create (from a file or a definition), save a new version, get (a version or as of a
time), list (the ``pipelines`` view, one project partition), validate without saving, history,
diff, per-node blame, export (YAML/JSON) and compile to the workflow model / ASL.

Authorization is injected (``Access.check``: "read" for viewers, "write" for editors). Every write
goes through ``runtime.services.commands.execute``; an invalid definition raises
``PipelineInvalid`` (422, every problem listed) and writes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from domain.configs.diff import diff_values, summarize
from domain.errors import Invalid, NotFound
from domain.events import new_id
from domain.pipelines import aggregate as agg
from domain.pipelines import portable
from domain.pipelines.blame import blame as blame_records
from domain.pipelines.blame import node_of
from domain.pipelines.compile import compile_pipeline, stages
from domain.pipelines.kinds import KINDS
from domain.records import RecordedEvent
from runtime.ports import EventStore, ViewStore
from runtime.services.commands import Caller, execute
from runtime.services.configs import history_item

Authorize = Callable[[Caller, str, str], None]
PIPELINES = agg.PIPELINES


def pipeline_doc(state: agg.PipelineState) -> dict[str, Any]:
    d = state.definition
    return {
        "pipeline_id": state.pipeline_id,
        "project_id": state.project_id,
        "name": d.get("name", ""),
        "description": d.get("description", ""),
        "version": state.version,
        "definition": portable.document(d),
        "stages": stages(d),
        "not_available": [n for n, v in d["nodes"].items() if not KINDS[v["kind"]].available],
    }


def definition_of(definition: dict[str, Any] | None, text: str | bytes | None) -> dict[str, Any]:
    """Exactly one of a parsed document or file text -> a validated canonical definition."""
    if (definition is None) == (text is None):
        raise Invalid("give exactly one of definition or file", field="definition")
    if text is not None:
        return portable.loads(text)
    portable.check_bounds(definition)
    return portable.from_document(definition)


class PipelineService:
    def __init__(
        self, store: EventStore, views: ViewStore, authorize: Authorize, catch_up: Callable[[], None] = lambda: None
    ) -> None:
        self.store = store
        self.views = views
        self.authorize = authorize
        self.catch_up = catch_up

    # ------------------------------------------------------------------ reading
    @staticmethod
    def kinds() -> list[dict[str, Any]]:
        return [k.describe() for k in KINDS.values()]

    @staticmethod
    def validate(definition: dict[str, Any] | None = None, text: str | bytes | None = None) -> dict[str, Any]:
        """Check without saving: the canonical document and its stages (PipelineInvalid if bad)."""
        d = definition_of(definition, text)
        return {"valid": True, "definition": portable.document(d), "stages": stages(d)}

    def _state(
        self, caller: Caller, pipeline_id: str, action: str, *, version: int | None = None,
        as_of: datetime | None = None,
    ) -> tuple[agg.PipelineState, list[RecordedEvent]]:  # fmt: skip
        records = self.store.read(PIPELINES.stream_id(pipeline_id), until_version=version, until_time=as_of)
        state = PIPELINES.fold(r.event() for r in records)
        if not state.exists:
            when = f" at {as_of.isoformat()}" if as_of else (f" at version {version}" if version else "")
            raise NotFound(f"no pipeline {pipeline_id!r}{when}", field="pipeline_id")
        self.authorize(caller, state.project_id, action)
        if version is not None and version > state.version:
            raise NotFound(f"pipeline {pipeline_id!r} has no version {version}", field="version")
        return state, records

    def get(
        self, caller: Caller, pipeline_id: str, *, version: int | None = None, as_of: datetime | None = None
    ) -> dict[str, Any]:
        state, _ = self._state(caller, pipeline_id, "read", version=version, as_of=as_of)
        if state.deleted:
            raise NotFound(f"pipeline {pipeline_id!r} is deleted", field="pipeline_id")
        doc = pipeline_doc(state)
        if as_of is not None:
            doc["as_of"] = as_of.isoformat()
        return doc

    def list_project(self, caller: Caller, project_id: str) -> list[dict[str, Any]]:
        self.authorize(caller, project_id, "read")
        self.catch_up()
        rows = [row for _, row in self.views.scan_partition("pipelines", project_id)]
        return sorted(rows, key=lambda r: (r["updated"]["at"], r["pipeline_id"]), reverse=True)

    def export(self, caller: Caller, pipeline_id: str, *, fmt: str = "yaml", version: int | None = None) -> str:
        state, _ = self._state(caller, pipeline_id, "read", version=version)
        if state.deleted:
            raise NotFound(f"pipeline {pipeline_id!r} is deleted", field="pipeline_id")
        return portable.dumps(state.definition, fmt)

    def history(self, caller: Caller, pipeline_id: str) -> list[dict[str, Any]]:
        _, records = self._state(caller, pipeline_id, "read")
        out = []
        for r in records:
            item = history_item(r)
            data = dict(item.pop("data"))
            data.pop("definition", None)  # the whole file is the version itself: GET ?version=N
            changes = data.get("changes") or []
            item["changes"] = changes
            item["nodes_changed"] = sorted({n for c in changes if (n := node_of(c["path"])) is not None})
            out.append(item)
        return out

    def diff(self, caller: Caller, pipeline_id: str, from_version: int, to_version: int) -> dict[str, Any]:
        for field, v in (("from_version", from_version), ("to_version", to_version)):
            if v < 1:
                raise Invalid("versions count from 1", field=field)
        latest, records = self._state(caller, pipeline_id, "read")
        for field, v in (("from_version", from_version), ("to_version", to_version)):
            if v > latest.version:
                raise NotFound(f"pipeline {pipeline_id!r} has no version {v}", field=field)
        a = PIPELINES.fold(r.event() for r in records[:from_version]).definition
        b = PIPELINES.fold(r.event() for r in records[:to_version]).definition
        changes = diff_values(a, b)
        an, bn = set(a.get("nodes", {})), set(b.get("nodes", {}))
        changed = sorted({n for c in changes if (n := node_of(c.path)) is not None} & an & bn)
        return {
            "pipeline_id": pipeline_id,
            "from_version": from_version,
            "to_version": to_version,
            "nodes": {"added": sorted(bn - an), "removed": sorted(an - bn), "changed": changed},
            "changes": [c.model_dump() for c in changes],
            "summary": summarize(changes),
        }

    def blame(self, caller: Caller, pipeline_id: str, *, version: int | None = None) -> list[dict[str, Any]]:
        _, records = self._state(caller, pipeline_id, "read", version=version)
        return list(blame_records(records).values())

    def workflow(self, caller: Caller, pipeline_id: str, *, version: int | None = None) -> Any:
        """The workflow model of one pipeline version (``domain.workflows.model.Workflow``)."""
        state, _ = self._state(caller, pipeline_id, "read", version=version)
        return compile_pipeline(state.definition, pipeline_id=pipeline_id, version=state.version)

    def asl(self, caller: Caller, pipeline_id: str, *, version: int | None = None) -> dict[str, Any]:
        from runtime.workflows import asl

        return asl.render(self.workflow(caller, pipeline_id, version=version))

    # ------------------------------------------------------------------ writing
    def create(
        self, caller: Caller, project_id: str, *, definition: dict[str, Any] | None = None,
        text: str | bytes | None = None,
    ) -> dict[str, Any]:  # fmt: skip
        self.authorize(caller, project_id, "write")
        defn = definition_of(definition, text)
        pipeline_id = new_id()[:12]
        cmd = agg.CreatePipeline(pipeline_id=pipeline_id, project_id=project_id, definition=defn)
        return pipeline_doc(execute(self.store, PIPELINES, pipeline_id, cmd, caller).state)

    def save(
        self, caller: Caller, pipeline_id: str, *, definition: dict[str, Any] | None = None,
        text: str | bytes | None = None, expected_version: int | None = None,
    ) -> dict[str, Any]:  # fmt: skip
        """A new version (nothing recorded when nothing changed); ``expected_version``: the version
        the client read (409 if another save came first)."""
        state, _ = self._state(caller, pipeline_id, "write")
        defn = definition_of(definition, text)
        cmd = agg.SavePipeline(pipeline_id=pipeline_id, definition=defn, expected_version=expected_version)
        out = execute(self.store, PIPELINES, pipeline_id, cmd, caller)
        doc = pipeline_doc(out.state)
        doc["changed"] = bool(out.events)
        return doc

    def delete(self, caller: Caller, pipeline_id: str, *, expected_version: int | None = None) -> dict[str, Any]:
        self._state(caller, pipeline_id, "write")
        cmd = agg.DeletePipeline(pipeline_id=pipeline_id, expected_version=expected_version)
        out = execute(self.store, PIPELINES, pipeline_id, cmd, caller)
        return {"pipeline_id": pipeline_id, "deleted": True, "version": out.version}
