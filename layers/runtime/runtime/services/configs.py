"""Parameter configs: create (template, file, import, architecture derivation), edit, batch edit,
get (as of a time or version), export, delete, history, diff and blame.

Authorization is injected: ``authorize(caller, project_id, "read" | "write")`` raises Forbidden
(``runtime.services.access.Access.check`` fits). Every write goes through
``runtime.services.commands.execute`` (the batch edit: ``execute_many``).

Batch edit ("all or nothing, one event per config"): every target is loaded, checked (exists,
"write" on its project) and decided (the pure ``decide`` validates the resulting config); any
NotFound / Forbidden / Invalid aborts before a write. Then one ``ConfigEdited`` per config (same
``batch_id``) goes into ONE ``EventStore.append_batch`` (``execute_many``): if another writer
moved any target since it was loaded, nothing is written, the batch is planned again on fresh
state (``retries`` times), and then ConcurrencyConflict (409) tells the client to retry. At most
``MAX_BATCH_ITEMS`` configs per batch (DynamoDB's transaction limit, on every backend).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import PurePath
from typing import Any

from pydantic import ValidationError

from domain.configs import aggregate as agg
from domain.configs import paths, portable
from domain.configs.arch import ArchEdit, apply_edit, structural_diff
from domain.configs.blame import blame as blame_records
from domain.configs.diff import diff_values, summarize
from domain.configs.events import DerivedFrom
from domain.configs.templates import get_template, list_templates, template_values
from domain.errors import DomainError, Invalid, NotFound
from domain.events import new_id
from domain.records import RecordedEvent
from runtime.ports import MAX_BATCH_ITEMS, EventStore
from runtime.services.commands import Caller, Decision, execute, execute_many, load

Authorize = Callable[[Caller, str, str], None]
CONFIG = agg.CONFIG


def config_doc(state: agg.ConfigState) -> dict[str, Any]:
    return {
        "config_id": state.config_id,
        "project_id": state.project_id,
        "name": state.name,
        "description": state.description,
        "family": state.family,
        "values": state.values,
        "origin": state.origin,
        "origin_ref": state.origin_ref,
        "derived_from": state.derived_from.model_dump() if state.derived_from else None,
        "version": state.version,
        "deleted": state.deleted,
    }


def history_item(r: RecordedEvent) -> dict[str, Any]:
    m = r.metadata
    return {
        "version": r.version,
        "type": r.type,
        "actor": m.actor,
        "occurred_at": m.occurred_at.isoformat(),
        "recorded_at": r.recorded_at.isoformat(),
        "command_id": m.causation_id,
        "correlation_id": m.correlation_id,
        "reason": m.reason,
        "data": r.data,
    }


class ConfigService:
    def __init__(self, store: EventStore, authorize: Authorize, *, retries: int = 2) -> None:
        self.store = store
        self.authorize = authorize
        self.retries = retries

    # ------------------------------------------------------------------ reading
    @staticmethod
    def templates() -> list[dict[str, Any]]:
        return [t.to_dict() for t in list_templates()]

    @staticmethod
    def template(name: str) -> dict[str, Any]:
        return get_template(name).to_dict()

    def _records(self, config_id: str, *, version: int | None = None, as_of: datetime | None = None):  # type: ignore[no-untyped-def]
        return self.store.read(CONFIG.stream_id(config_id), until_version=version, until_time=as_of)

    def _state(
        self,
        caller: Caller,
        config_id: str,
        action: str,
        *,
        version: int | None = None,
        as_of: datetime | None = None,
    ) -> tuple[agg.ConfigState, list[RecordedEvent]]:
        records = self._records(config_id, version=version, as_of=as_of)
        state = CONFIG.fold(r.event() for r in records)
        if not state.exists:
            when = f" at {as_of.isoformat()}" if as_of else (f" at version {version}" if version else "")
            raise NotFound(f"no config {config_id!r}{when}", field="config_id")
        self.authorize(caller, state.project_id, action)
        if version is not None and version > state.version:
            raise NotFound(f"config {config_id!r} has no version {version}", field="version")
        return state, records

    def get(
        self, caller: Caller, config_id: str, *, as_of: datetime | None = None, version: int | None = None
    ) -> dict[str, Any]:
        state, _ = self._state(caller, config_id, "read", version=version, as_of=as_of)
        if state.deleted:
            raise NotFound(f"config {config_id!r} is deleted", field="config_id")
        doc = config_doc(state)
        if as_of is not None:
            doc["as_of"] = as_of.isoformat()
        return doc

    def export(self, caller: Caller, config_id: str, *, fmt: str = "json", version: int | None = None) -> str:
        doc = self.get(caller, config_id, version=version)
        pc = portable.PortableConfig(
            name=doc["name"], description=doc["description"], family=doc["family"], values=doc["values"]
        )
        return portable.dumps(pc, fmt)  # type: ignore[arg-type]

    def history(self, caller: Caller, config_id: str) -> list[dict[str, Any]]:
        _, records = self._state(caller, config_id, "read")
        return [history_item(r) for r in records]

    def diff(self, caller: Caller, config_id: str, from_version: int, to_version: int) -> dict[str, Any]:
        """Leaf-level difference between two versions of one config (either order)."""
        for field, v in (("from_version", from_version), ("to_version", to_version)):
            if v < 1:
                raise Invalid("versions count from 1", field=field)
        latest, records = self._state(caller, config_id, "read")
        for field, v in (("from_version", from_version), ("to_version", to_version)):
            if v > latest.version:
                raise NotFound(f"config {config_id!r} has no version {v}", field=field)
        a = CONFIG.fold(r.event() for r in records[:from_version])
        b = CONFIG.fold(r.event() for r in records[:to_version])
        changes = diff_values(a.values, b.values)
        return {
            "config_id": config_id,
            "from_version": from_version,
            "to_version": to_version,
            "changes": [c.model_dump() for c in changes],
            "summary": summarize(changes),
            "name": {"old": a.name, "new": b.name} if a.name != b.name else None,
            "description": {"old": a.description, "new": b.description}
            if a.description != b.description
            else None,
        }

    def blame(
        self, caller: Caller, config_id: str, *, version: int | None = None, path: str | None = None
    ) -> list[dict[str, Any]]:
        """Who set each leaf's current value (at ``version``, default latest); ``path`` narrows to
        one leaf or subtree."""
        _, records = self._state(caller, config_id, "read", version=version)
        entries = blame_records(records)
        if path is not None:
            entries = {p: e for p, e in entries.items() if p == path or p.startswith(path + ".")}
            if not entries:
                raise NotFound(f"no field {path!r} in config {config_id!r}", field="path")
        return [e.model_dump(mode="json") for e in entries.values()]

    # ------------------------------------------------------------------ creating
    def _create(self, caller: Caller, project_id: str, **fields: Any) -> dict[str, Any]:
        self.authorize(caller, project_id, "write")
        config_id = new_id()[:12]
        cmd = agg.CreateConfig(config_id=config_id, project_id=project_id, **fields)
        return config_doc(execute(self.store, CONFIG, config_id, cmd, caller).state)

    def create_from_template(
        self,
        caller: Caller,
        project_id: str,
        template: str,
        *,
        name: str | None = None,
        description: str = "",
        overrides: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """``overrides``: dotted paths set on top of the template (validated with it)."""
        values = template_values(template)
        for path, value in (overrides or {}).items():
            values = paths.set_(values, path, value)
        return self._create(
            caller, project_id, name=name or template, description=description, values=values,
            origin="template", origin_ref=template,
        )  # fmt: skip

    def create_from_file(
        self,
        caller: Caller,
        project_id: str,
        content: str | bytes,
        *,
        filename: str | None = None,
        name: str | None = None,
        description: str | None = None,
    ) -> dict[str, Any]:
        """An uploaded JSON or YAML file: a portable tlm.config document or a bare config."""
        doc = portable.loads(content, default_name=PurePath(filename).stem if filename else None)
        return self._create(
            caller, project_id, name=name or doc.name, description=doc.description if description is None
            else description, values=doc.values, origin="file", origin_ref=filename,
        )  # fmt: skip

    def import_(
        self, caller: Caller, project_id: str, content: str | bytes, *, name: str | None = None
    ) -> dict[str, Any]:
        """A portable file exported from this or another TLM (schema_version checked)."""
        doc = portable.loads(content)
        return self._create(
            caller, project_id, name=name or doc.name, description=doc.description, values=doc.values,
            origin="import", origin_ref=doc.name,
        )  # fmt: skip

    def derive(
        self,
        caller: Caller,
        parent_id: str,
        edit: ArchEdit | dict[str, Any],
        *,
        name: str,
        description: str = "",
        project_id: str | None = None,
        parent_version: int | None = None,
    ) -> dict[str, Any]:
        """A child config: ``edit`` applied to the parent (at ``parent_version``, default latest).
        Needs read on the parent's project and write on the target project (default: the same)."""
        if isinstance(edit, dict):
            try:
                edit = ArchEdit.model_validate(edit)
            except ValidationError as e:
                first = e.errors(include_url=False)[0]
                where = ".".join(str(p) for p in first["loc"])
                raise Invalid(first["msg"], field=f"edit.{where}" if where else "edit") from None
        parent, _ = self._state(caller, parent_id, "read", version=parent_version)
        if parent.deleted:
            raise NotFound(f"config {parent_id!r} is deleted", field="parent_id")
        result = apply_edit(parent.values, edit)
        lineage = DerivedFrom(
            config_id=parent_id, version=parent.version, edit=edit.model_dump(exclude_none=True),
            layer_map=result.layer_map,
        )  # fmt: skip
        doc = self._create(
            caller, project_id or parent.project_id, name=name, description=description, values=result.values,
            origin="derived", origin_ref=f"{parent_id}@{parent.version}", derived_from=lineage,
        )  # fmt: skip
        doc["arch"] = {
            "changes": [c.model_dump() for c in result.changes],
            "structural": structural_diff(parent.values, result.values),
            "layer_map": result.layer_map,
        }
        return doc

    def arch_test_hyperparameters(self, caller: Caller, config_id: str, **options: Any) -> dict[str, Any]:
        """Hyperparameters for ``jobs.arch_test`` comparing a derived config with its parent
        (``options``: batch_size, seq_len, text, parent_model_dir ...)."""
        child, _ = self._state(caller, config_id, "read")
        if child.derived_from is None:
            raise Invalid(f"config {config_id!r} was not derived from a parent", field="config_id")
        lineage = child.derived_from
        parent, _ = self._state(caller, lineage.config_id, "read", version=lineage.version)
        return {"parent": parent.values, "child": child.values, "layer_map": lineage.layer_map, **options}

    # ------------------------------------------------------------------ changing
    def edit(
        self,
        caller: Caller,
        config_id: str,
        *,
        set: dict[str, Any] | None = None,  # noqa: A002 - the API's word
        unset: list[str] | None = None,
        values: dict[str, Any] | None = None,
        name: str | None = None,
        description: str | None = None,
        expected_version: int | None = None,
    ) -> dict[str, Any]:
        self._state(caller, config_id, "write")
        cmd = agg.EditConfig(
            config_id=config_id, set=set or {}, unset=unset or [], values=values, name=name,
            description=description, expected_version=expected_version,
        )  # fmt: skip
        return config_doc(execute(self.store, CONFIG, config_id, cmd, caller).state)

    def delete(
        self, caller: Caller, config_id: str, *, expected_version: int | None = None
    ) -> dict[str, Any]:
        self._state(caller, config_id, "write")
        cmd = agg.DeleteConfig(config_id=config_id, expected_version=expected_version)
        out = execute(self.store, CONFIG, config_id, cmd, caller)
        return {"config_id": config_id, "deleted": True, "version": out.version}

    # ------------------------------------------------------------------ batch edit
    def _plan(self, caller: Caller, ids: list[str], cmd_fields: dict[str, Any]) -> list[Decision]:
        plan: list[Decision] = []
        for i, cid in enumerate(ids):
            try:
                state, version = load(self.store, CONFIG, cid)
                if not state.exists or state.deleted:
                    raise NotFound(f"no config {cid!r}", field="config_id")
                self.authorize(caller, state.project_id, "write")
                cmd = agg.EditConfig(config_id=cid, **cmd_fields)
                events = list(CONFIG.decide(state, cmd))
            except DomainError as e:
                e.message = f"config_ids[{i}] ({cid}): {e.message}"
                e.args = (e.message,)
                if e.field in (None, "config_id", "project_id"):
                    e.field = f"config_ids[{i}]"
                e.config_id = cid  # type: ignore[attr-defined]
                raise
            plan.append(Decision(CONFIG, cid, cmd, state, version, events))
        return plan

    def batch_edit(
        self,
        caller: Caller,
        config_ids: list[str],
        *,
        set: dict[str, Any] | None = None,  # noqa: A002
        unset: list[str] | None = None,
        batch_id: str | None = None,
    ) -> dict[str, Any]:
        """Set / unset the same keys on several configs: one atomic write, one event per config
        that changes (see the module docstring)."""
        if not config_ids:
            raise Invalid("name at least one config", field="config_ids")
        if len(set_ids := dict.fromkeys(config_ids)) != len(config_ids):
            raise Invalid("a config is named twice", field="config_ids")
        if len(config_ids) > MAX_BATCH_ITEMS:
            raise Invalid(f"at most {MAX_BATCH_ITEMS} configs per batch edit", field="config_ids")
        if not set and not unset:
            raise Invalid("nothing to change: give set and/or unset", field="set")
        ids = list(set_ids)
        batch_id = batch_id or new_id()
        fields = {"set": set or {}, "unset": unset or [], "batch_id": batch_id}
        outs = execute_many(self.store, lambda: self._plan(caller, ids, fields), caller, retries=self.retries)
        return {
            "batch_id": batch_id,
            "configs": [
                {"config_id": cid, "version": o.version, "changed": bool(o.events)}
                for cid, o in zip(ids, outs, strict=True)
            ],
        }
