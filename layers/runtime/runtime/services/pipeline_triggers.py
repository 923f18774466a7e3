"""Pipeline triggers (issue 15 item 4): create, list, remove; fire the due schedules; fire on new
dataset or model versions.

- ``create`` (editor on the pipeline's project): a schedule (``cron``, validated in the domain,
  ``domain.pipelines.cron``) or a new-version trigger (``watch``: a dataset or model of the same
  project). One ``execute_many``: the pipeline's trigger stream and the registry of live triggers
  (``domain.pipelines.triggers``) change together. ``remove`` likewise.
- ``fire_due(now)``: every schedule whose latest scheduled minute in ``(max(created, now -
  look-back), now]`` has not fired asks for a run. Locally ``tlm serve``'s background loop calls it
  every 30 s; on AWS an EventBridge rule (every minute) calls the same function. Missed minutes older
  than the latest one are not made up (one run per tick at most, like Scheduler's flexible window).
- The ``fire-pipeline-triggers`` reaction: ``model.file_added`` on a watched dataset or model
  (the library's version is its stream's version; a batch of files fires once, for its last
  file) and ``modelversion.created`` of a watched model (a release-center version).
- A firing requests the run as the trigger's creator (authorized then: a member who lost the editor
  role fires nothing) under the run id ``fire_id(trigger, cause)``: a second firing of the same cause
  (a restart, a redelivery, two servers) is a Conflict on the run's stream, never a second run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from domain.errors import Conflict, DomainError, NotFound
from domain.events import new_id
from domain.library.models import MODELS
from domain.pipelines.aggregate import PIPELINES
from domain.pipelines.cron import parse_cron
from domain.pipelines.triggers import (
    REGISTRY,
    REGISTRY_ID,
    TRIGGERS,
    CreateTrigger,
    Register,
    RemoveTrigger,
    Unregister,
    check,
    fire_id,
)
from domain.records import RecordedEvent
from runtime.ports import EventStore
from runtime.reactions.registry import Reaction
from runtime.services.commands import Caller, Change, execute_many, load

log = logging.getLogger("tlm.triggers")
LOOK_BACK_S = 600
NEW_VERSION_EVENTS = frozenset({"model.file_added", "modelversion.created"})


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat()


class PipelineTriggerService:
    def __init__(self, store: EventStore, authorize: Callable[[Caller, str, str], None], runs: Callable[[], Any],
                 *, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:  # fmt: skip
        self.store, self.authorize, self.runs, self.clock = store, authorize, runs, clock

    def _pipeline(self, caller: Caller, pipeline_id: str, action: str) -> Any:
        state, _ = load(self.store, PIPELINES, pipeline_id)
        if not state.exists or state.deleted:
            raise NotFound(f"no pipeline {pipeline_id!r}", field="pipeline_id")
        self.authorize(caller, state.project_id, action)
        return state

    def create(self, caller: Caller, pipeline_id: str, *, kind: str, cron: str | None = None,
               watch: dict[str, Any] | None = None, version: int | None = None) -> dict[str, Any]:  # fmt: skip
        state = self._pipeline(caller, pipeline_id, "write")
        if version is not None and not 1 <= version <= state.version:
            raise NotFound(f"pipeline {pipeline_id!r} has no version {version}", field="version")
        watch = watch or {}
        cmd = CreateTrigger(pipeline_id=pipeline_id, project_id=state.project_id, trigger_id=new_id()[:16],
                            kind=kind, cron=cron, watch_kind=watch.get("kind"), watch_id=watch.get("id"),
                            version=version)  # fmt: skip
        created = check(cmd)  # Invalid naming the field before anything is read further
        if created.kind == "new_version":
            self._watched(state.project_id, str(created.watch_kind), str(created.watch_id))
        entry = {**created.model_dump(), "created_by": caller.user_id, "created_at": _iso(self.clock())}
        changes = [Change(TRIGGERS, pipeline_id, cmd), Change(REGISTRY, REGISTRY_ID, Register(trigger=entry))]
        execute_many(self.store, changes, caller, retries=3)
        return self._doc(entry)

    def _watched(self, project_id: str, kind: str, model_id: str) -> None:
        m, _ = load(self.store, MODELS, model_id)
        if not m.exists or getattr(m, "deleted", False) or m.project_id != project_id or (m.kind or "model") != kind:
            raise NotFound(f"no {kind} {model_id!r} in the pipeline's project", field="watch.id")

    def triggers(self, caller: Caller, pipeline_id: str) -> list[dict[str, Any]]:
        self._pipeline(caller, pipeline_id, "read")
        live = load(self.store, REGISTRY, REGISTRY_ID)[0].live
        return [self._doc(t) for t in live.values() if t["pipeline_id"] == pipeline_id]

    def remove(self, caller: Caller, pipeline_id: str, trigger_id: str) -> dict[str, Any]:
        self._pipeline(caller, pipeline_id, "write")
        changes = [Change(TRIGGERS, pipeline_id, RemoveTrigger(pipeline_id=pipeline_id, trigger_id=trigger_id)),
                   Change(REGISTRY, REGISTRY_ID, Unregister(trigger_id=trigger_id))]  # fmt: skip
        execute_many(self.store, changes, caller, retries=3)
        return {"trigger_id": trigger_id, "pipeline_id": pipeline_id, "removed": True}

    def _doc(self, t: dict[str, Any]) -> dict[str, Any]:
        doc = {k: t.get(k) for k in ("trigger_id", "pipeline_id", "kind", "cron", "version", "created_by",
                                     "created_at")}  # fmt: skip
        doc["watch"] = {"kind": t["watch_kind"], "id": t["watch_id"]} if t.get("watch_id") else None
        nxt = parse_cron(t["cron"]).next_after(self.clock()) if t.get("cron") else None
        doc["next_fire_at"] = _iso(nxt) if nxt else None
        return doc

    # ------------------------------------------------------------------ firing
    def fire(self, t: dict[str, Any], cause: str, *, in_reaction: bool = False) -> str | None:
        """Ask for the run of one firing; its id, or None (fired already, or refused: logged)."""
        run_id = fire_id(str(t["trigger_id"]), cause)
        why = f"trigger {t['trigger_id']}: {cause}"
        caller = Caller(user_id=str(t["created_by"]), correlation_id=run_id, reason=why)
        try:
            state = self._pipeline(caller, str(t["pipeline_id"]), "write")
            version = int(t.get("version") or state.version)
            fired = {"trigger_id": t["trigger_id"], "kind": t["kind"], "cause": cause}
            self.runs()._request(caller, state.pipeline_id, state.project_id, version, run_id=run_id, trigger=fired,
                                 start_now=not in_reaction)  # fmt: skip
        except Conflict:
            return None  # fired already (a restart, a redelivery): the run's stream exists
        except DomainError as e:  # a pipeline deleted, a creator without the role, AWS (not yet): nothing to retry
            log.warning("trigger %s did not fire (%s): %s", t["trigger_id"], cause, e)
            return None
        return run_id

    def fire_due(self, now: datetime | None = None, *, look_back_s: int = LOOK_BACK_S) -> list[str]:
        now = now or self.clock()
        fired = []
        for t in load(self.store, REGISTRY, REGISTRY_ID)[0].live.values():
            if t["kind"] != "schedule":
                continue
            start = max(datetime.fromisoformat(t["created_at"]), now - timedelta(seconds=look_back_s))
            due = parse_cron(t["cron"]).due(start, now)
            if due:
                run_id = self.fire(t, f"schedule {_iso(due[-1])}")
                if run_id:
                    fired.append(run_id)
        return fired

    def on_new_version(self, event: RecordedEvent) -> None:
        if event.type == "modelversion.created":
            watched, cause = str(event.data.get("model_id") or ""), f"version {event.data.get('version_id')}"
        else:
            watched = event.stream_id.removeprefix(MODELS.stream_id(""))
            later = self.store.read(event.stream_id, after_version=event.version)
            if later and later[0].type == event.type and later[0].recorded_at == event.recorded_at:
                return  # a batch of files: its last one fires
            cause = f"{event.stream_id} v{event.version}"
        for t in load(self.store, REGISTRY, REGISTRY_ID)[0].live.values():
            if t["kind"] == "new_version" and t["watch_id"] == watched:
                self.fire(t, cause, in_reaction=True)

    def reaction(self) -> Reaction:
        return Reaction("fire-pipeline-triggers", NEW_VERSION_EVENTS, self.on_new_version)
