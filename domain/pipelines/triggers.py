"""Triggers of a pipeline: on demand (a run request), on a schedule (cron, UTC), or when a dataset
or model gets a new version.

- Stream ``pipelinetriggers-<pipeline id>`` (``TRIGGERS``): ``pipelinetrigger.created`` /
  ``pipelinetrigger.removed``, the pipeline's trigger history (its first event names the project).
  They are not events of ``pipeline-<id>`` itself: there, version N is the N-th event (every save),
  which a trigger must not move.
- Stream ``triggerregistry-all`` (``REGISTRY``): the live triggers of every pipeline, written in the
  same batch as the pipeline's own stream (``execute_many``), so the scheduler and the new-version
  reaction read one small stream instead of scanning the log.
- A firing is a run whose id is derived from the trigger and what fired it (``fire_id``): the
  scheduled minute, or the dataset/model stream and version. Firing twice (a restart, a redelivery)
  asks for the same run id again, which the run's aggregate refuses (Conflict): never two runs.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from pydantic import Field

from domain.aggregate import Aggregate
from domain.errors import Conflict, Invalid, NotFound
from domain.events import Command, DomainEvent, event
from domain.pipelines.cron import parse_cron

MAX_TRIGGERS = 20  # per pipeline
WATCH_KINDS = ("dataset", "model")
REGISTRY_ID = "all"


@event("pipelinetrigger.created")
class TriggerCreated(DomainEvent):
    pipeline_id: str
    project_id: str
    trigger_id: str
    kind: Literal["schedule", "new_version"]
    cron: str | None = None
    watch_kind: str | None = None
    watch_id: str | None = None
    version: int | None = None  # the pipeline version it runs (None: the latest at firing time)


@event("pipelinetrigger.removed")
class TriggerRemoved(DomainEvent):
    pipeline_id: str
    trigger_id: str


class CreateTrigger(Command):
    pipeline_id: str
    project_id: str
    trigger_id: str = Field(min_length=1, max_length=64)
    kind: str
    cron: str | None = None
    watch_kind: str | None = None
    watch_id: str | None = None
    version: int | None = None


class RemoveTrigger(Command):
    pipeline_id: str
    trigger_id: str


@dataclass(frozen=True)
class Triggers:
    pipeline_id: str = ""
    project_id: str = ""
    live: dict[str, TriggerCreated] = field(default_factory=dict)
    version: int = 0


def check(cmd: CreateTrigger) -> TriggerCreated:
    """The trigger as an event, or Invalid naming the request field."""
    if cmd.kind == "schedule":
        if cmd.watch_kind or cmd.watch_id:
            raise Invalid("a schedule trigger watches nothing; give cron only", field="watch")
        cron = parse_cron(cmd.cron, field="cron").text
        return TriggerCreated(pipeline_id=cmd.pipeline_id, project_id=cmd.project_id, trigger_id=cmd.trigger_id,
                              kind="schedule", cron=cron, version=cmd.version)  # fmt: skip
    if cmd.kind == "new_version":
        if cmd.cron is not None:
            raise Invalid("a new-version trigger has no cron", field="cron")
        if cmd.watch_kind not in WATCH_KINDS:
            raise Invalid(f"watch.kind must be one of {list(WATCH_KINDS)}", field="watch.kind")
        if not cmd.watch_id or len(cmd.watch_id) > 64:
            raise Invalid("watch.id names the dataset or model (1-64 characters)", field="watch.id")
        return TriggerCreated(pipeline_id=cmd.pipeline_id, project_id=cmd.project_id, trigger_id=cmd.trigger_id,
                              kind="new_version", watch_kind=cmd.watch_kind, watch_id=cmd.watch_id,
                              version=cmd.version)  # fmt: skip
    raise Invalid("kind must be schedule or new_version (on demand is a run request)", field="kind")


def _evolve(state: Triggers, evt: DomainEvent) -> Triggers:
    v = state.version + 1
    if isinstance(evt, TriggerCreated):
        return replace(state, pipeline_id=evt.pipeline_id, project_id=evt.project_id,
                       live={**state.live, evt.trigger_id: evt}, version=v)  # fmt: skip
    if isinstance(evt, TriggerRemoved):
        return replace(state, live={k: t for k, t in state.live.items() if k != evt.trigger_id}, version=v)
    return replace(state, version=v)


def _decide(state: Triggers, cmd: Command) -> list[DomainEvent]:
    if isinstance(cmd, CreateTrigger):
        if cmd.trigger_id in state.live:
            raise Conflict(f"trigger {cmd.trigger_id!r} exists", field="trigger_id")
        if len(state.live) >= MAX_TRIGGERS:
            raise Invalid(f"a pipeline has at most {MAX_TRIGGERS} triggers (limits.pipeline_triggers)", field="kind")
        return [check(cmd)]
    if isinstance(cmd, RemoveTrigger):
        if cmd.trigger_id not in state.live:
            raise NotFound(f"no trigger {cmd.trigger_id!r} on pipeline {cmd.pipeline_id}", field="trigger_id")
        return [TriggerRemoved(pipeline_id=cmd.pipeline_id, trigger_id=cmd.trigger_id)]
    raise Invalid(f"unknown command {type(cmd).__name__}", field="command")


TRIGGERS: Aggregate[Triggers] = Aggregate("pipelinetriggers", Triggers, _evolve, _decide)


# ------------------------------------------------------------------ registry of live triggers


@event("triggerregistry.added")
class RegistryAdded(DomainEvent):
    trigger: dict[str, Any]  # a TriggerCreated's fields


@event("triggerregistry.removed")
class RegistryRemoved(DomainEvent):
    trigger_id: str


class Register(Command):
    trigger: dict[str, Any]


class Unregister(Command):
    trigger_id: str


@dataclass(frozen=True)
class Registry:
    live: dict[str, dict[str, Any]] = field(default_factory=dict)
    version: int = 0


def _reg_evolve(state: Registry, evt: DomainEvent) -> Registry:
    v = state.version + 1
    if isinstance(evt, RegistryAdded):
        return Registry({**state.live, str(evt.trigger["trigger_id"]): dict(evt.trigger)}, v)
    if isinstance(evt, RegistryRemoved):
        return Registry({k: t for k, t in state.live.items() if k != evt.trigger_id}, v)
    return replace(state, version=v)


def _reg_decide(state: Registry, cmd: Command) -> list[DomainEvent]:
    if isinstance(cmd, Register):
        return [] if cmd.trigger["trigger_id"] in state.live else [RegistryAdded(trigger=dict(cmd.trigger))]
    if isinstance(cmd, Unregister):
        return [RegistryRemoved(trigger_id=cmd.trigger_id)] if cmd.trigger_id in state.live else []
    raise Invalid(f"unknown command {type(cmd).__name__}", field="command")


REGISTRY: Aggregate[Registry] = Aggregate("triggerregistry", Registry, _reg_evolve, _reg_decide)


def fire_id(trigger_id: str, cause: str) -> str:
    """The run id of one firing (32 hex characters, like ``new_id``): the same cause, the same run."""
    return hashlib.sha256(f"{trigger_id}|{cause}".encode()).hexdigest()[:32]
