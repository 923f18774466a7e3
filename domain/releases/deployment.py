"""The deployment aggregate, stream ``deployment-<deployment id>``.

A deployment serves one model's versions from two slots, ``blue`` and ``green``: the primary
slot takes the traffic; an update launches the new version in the other slot (the candidate),
shifts traffic to it by its strategy, bakes, and either finishes (the candidate becomes the
primary, the old slot is stopped) or rolls back (all traffic to the primary, the candidate
stopped). Every shift and rollback is an event with its cause.

Lifecycle: ``new`` -> ``deploying`` (the first version) -> ``running`` <-> ``updating`` ->
``stopped``; a first deployment that rolls back (nothing to go back to) is ``failed``.
``update_requested`` is the one write a start, an update or a manual rollback makes; the
start-release-run reaction runs the ``release`` workflow for it, whose steps send the rest.
Steps run at least once: a command repeated for an update already past it decides no events;
one for an update that is no longer current is a Conflict.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from domain.aggregate import Aggregate
from domain.errors import Conflict, Invalid, NotFound
from domain.events import Command, DomainEvent, event
from domain.releases.traffic import Strategy, Thresholds, split

SLOTS = ("blue", "green")
Status = Literal["new", "deploying", "running", "updating", "stopped", "failed"]
UpdateKind = Literal["start", "update", "rollback"]


def other_slot(slot: str | None) -> str:
    return "green" if slot == "blue" else "blue"


# ------------------------------------------------------------------ events


@event("deployment.created")
class DeploymentCreated(DomainEvent):
    deployment_id: str
    project_id: str
    model_id: str
    name: str


@event("deployment.update_requested")
class UpdateRequested(DomainEvent):
    update_id: str
    run_id: str
    kind: UpdateKind
    version_id: str
    slot: str
    params: dict[str, Any]
    strategy: dict[str, Any]
    thresholds: dict[str, Any]
    model_uri: str
    cause: str = ""


@event("deployment.slot_healthy")
class SlotHealthy(DomainEvent):
    update_id: str
    slot: str


@event("deployment.traffic_shifted")
class TrafficShifted(DomainEvent):
    update_id: str
    stage: int
    weights: dict[str, int]
    cause: str


@event("deployment.update_finished")
class UpdateFinished(DomainEvent):
    update_id: str
    slot: str
    version_id: str
    retired_slot: str | None = None


@event("deployment.rolled_back")
class RolledBack(DomainEvent):
    update_id: str
    cause: str
    weights: dict[str, int]
    observed: dict[str, Any] = Field(default_factory=dict)
    automatic: bool = True


@event("deployment.shadow_started")
class ShadowStarted(DomainEvent):
    slot: str
    version_id: str
    percent: int


@event("deployment.shadow_stopped")
class ShadowStopped(DomainEvent):
    slot: str
    reason: str = ""


@event("deployment.shadow_compared")
class ShadowCompared(DomainEvent):
    """Texts copied to the shadow slot since the last count, how many got the primary's label,
    and the copies that failed (the service writes them in batches, not one per request)."""

    slot: str
    version_id: str
    copied: int
    agreed: int
    errors: int


@event("deployment.unhealthy")
class SlotUnhealthy(DomainEvent):
    slot: str
    cause: str


@event("deployment.healed")
class SlotHealed(DomainEvent):
    slot: str
    cause: str = ""


@event("deployment.stopped")
class DeploymentStopped(DomainEvent):
    reason: str = ""
    slots: list[str] = Field(default_factory=list)


# ------------------------------------------------------------------ state


class Slot(BaseModel):
    model_config = ConfigDict(frozen=True)

    version_id: str
    params: dict[str, Any] = Field(default_factory=dict)
    model_uri: str = ""
    healthy: bool | None = None


class Update(BaseModel):
    model_config = ConfigDict(frozen=True)

    update_id: str
    run_id: str
    kind: str
    version_id: str
    slot: str
    strategy: dict[str, Any]
    thresholds: dict[str, Any]
    stage: int = -1  # the last shift applied (index into the schedule)
    healthy: bool = False
    shifted_at_version: int = 0

    def schedule(self) -> list[int]:
        return Strategy.model_validate(self.strategy).schedule()


class Deployment(BaseModel):
    model_config = ConfigDict(frozen=True)

    deployment_id: str = ""
    project_id: str = ""
    model_id: str = ""
    name: str = ""
    status: Status = "new"
    slots: dict[str, Slot] = Field(default_factory=dict)
    primary: str | None = None
    weights: dict[str, int] = Field(default_factory=dict)
    update: Update | None = None
    shadow: dict[str, Any] | None = None  # {slot, version_id, percent, compared (once counted)}
    history: tuple[str, ...] = ()  # primary versions, oldest first
    unhealthy: dict[str, str] = Field(default_factory=dict)  # slot -> cause

    @property
    def exists(self) -> bool:
        return bool(self.deployment_id)

    @property
    def primary_version(self) -> str | None:
        return self.slots[self.primary].version_id if self.primary in self.slots else None

    @property
    def previous_version(self) -> str | None:
        """The version a one-step rollback goes back to: the primary before the current one."""
        return self.history[-2] if len(self.history) >= 2 else None

    @property
    def live(self) -> bool:
        return self.status in ("running", "updating", "deploying")


def evolve(state: Deployment, e: DomainEvent) -> Deployment:
    def upd(**kw: Any) -> Deployment:
        return state.model_copy(update=kw)

    if isinstance(e, DeploymentCreated):
        return Deployment(deployment_id=e.deployment_id, project_id=e.project_id, model_id=e.model_id, name=e.name)
    if isinstance(e, UpdateRequested):
        slot = Slot(version_id=e.version_id, params=e.params, model_uri=e.model_uri)
        update = Update(update_id=e.update_id, run_id=e.run_id, kind=e.kind, version_id=e.version_id, slot=e.slot,
                        strategy=e.strategy, thresholds=e.thresholds)  # fmt: skip
        status: Status = "deploying" if state.primary is None else "updating"
        return upd(status=status, update=update, slots={**state.slots, e.slot: slot})
    if isinstance(e, SlotHealthy) and state.update is not None:
        slot = state.slots[e.slot].model_copy(update={"healthy": True})
        return upd(update=state.update.model_copy(update={"healthy": True}), slots={**state.slots, e.slot: slot})
    if isinstance(e, TrafficShifted) and state.update is not None:
        return upd(weights=dict(e.weights), update=state.update.model_copy(update={"stage": e.stage}))
    if isinstance(e, UpdateFinished):
        slots = {k: v for k, v in state.slots.items() if k != e.retired_slot}
        return upd(status="running", primary=e.slot, weights={e.slot: 100}, update=None, slots=slots,
                   history=(*state.history, e.version_id),
                   unhealthy={k: v for k, v in state.unhealthy.items() if k != e.retired_slot})  # fmt: skip
    if isinstance(e, RolledBack) and state.update is not None:
        gone = state.update.slot
        slots = {k: v for k, v in state.slots.items() if k != gone}
        status = "running" if state.primary is not None else "failed"
        return upd(status=status, weights=dict(e.weights), update=None, slots=slots,
                   unhealthy={k: v for k, v in state.unhealthy.items() if k != gone})  # fmt: skip
    if isinstance(e, ShadowStarted):
        return upd(shadow={"slot": e.slot, "version_id": e.version_id, "percent": e.percent},
                   slots={**state.slots, e.slot: Slot(version_id=e.version_id)})  # fmt: skip
    if isinstance(e, ShadowCompared) and state.shadow is not None:
        was = state.shadow.get("compared") or {"copied": 0, "agreed": 0, "errors": 0}
        now = {k: was.get(k, 0) + getattr(e, k) for k in ("copied", "agreed", "errors")}
        return upd(shadow={**state.shadow, "compared": now})
    if isinstance(e, ShadowStopped):
        return upd(shadow=None, slots={k: v for k, v in state.slots.items() if k != e.slot})
    if isinstance(e, SlotUnhealthy):
        return upd(unhealthy={**state.unhealthy, e.slot: e.cause})
    if isinstance(e, SlotHealed):
        return upd(unhealthy={k: v for k, v in state.unhealthy.items() if k != e.slot})
    if isinstance(e, DeploymentStopped):
        return upd(status="stopped", weights={}, update=None, shadow=None, unhealthy={})
    return state


# ------------------------------------------------------------------ commands


class RequestUpdate(Command):
    update_id: str
    run_id: str
    kind: UpdateKind
    version_id: str
    params: dict[str, Any]
    strategy: dict[str, Any]
    thresholds: dict[str, Any]
    model_uri: str
    cause: str = ""


class CreateDeployment(Command):
    """Create and ask for the first version in one write (``first`` is a ``start`` update)."""

    deployment_id: str
    project_id: str
    model_id: str
    name: str
    first: RequestUpdate


class MarkHealthy(Command):
    update_id: str


class Shift(Command):
    update_id: str
    stage: int  # index into the strategy's schedule


class Finish(Command):
    update_id: str


class RollBack(Command):
    update_id: str
    cause: str
    observed: dict[str, Any] = Field(default_factory=dict)
    automatic: bool = True


class StartShadow(Command):
    version_id: str
    percent: int


class StopShadow(Command):
    reason: str = ""


class CountShadow(Command):
    slot: str
    version_id: str
    copied: int
    agreed: int
    errors: int


class ReportHealth(Command):
    slot: str
    healthy: bool
    cause: str = ""


class Stop(Command):
    reason: str = ""


def _current(state: Deployment, update_id: str) -> Update | None:
    """The update a step names, if it is still the current one; None if it already ended."""
    if state.update is not None and state.update.update_id == update_id:
        return state.update
    return None


def decide(state: Deployment, cmd: Command) -> Sequence[DomainEvent]:
    if isinstance(cmd, CreateDeployment):
        if state.exists:
            raise Conflict(f"deployment {cmd.deployment_id} exists", field="deployment_id")
        if cmd.first.kind != "start":
            raise Invalid("a new deployment starts with a start update", field="kind")
        created = DeploymentCreated(deployment_id=cmd.deployment_id, project_id=cmd.project_id,
                                    model_id=cmd.model_id, name=cmd.name)  # fmt: skip
        return [created, *decide(evolve(state, created), cmd.first)]
    if not state.exists:
        raise NotFound("no such deployment", field="deployment_id")
    if isinstance(cmd, RequestUpdate):
        if state.status == "stopped":
            raise Conflict("the deployment is stopped", field="deployment_id")
        if state.update is not None:
            raise Conflict(f"update {state.update.update_id} is in progress", field="deployment_id")
        if state.shadow is not None:
            raise Conflict("stop the shadow test first", field="shadow")
        Strategy.model_validate(cmd.strategy)
        Thresholds.model_validate(cmd.thresholds)
        slot = other_slot(state.primary) if state.primary else "blue"
        return [UpdateRequested(slot=slot, **cmd.model_dump(exclude={"command_id"}))]
    if isinstance(cmd, MarkHealthy):
        u = _current(state, cmd.update_id)
        if u is None:
            raise Conflict(f"update {cmd.update_id} is not in progress", field="update_id")
        return [] if u.healthy else [SlotHealthy(update_id=u.update_id, slot=u.slot)]
    if isinstance(cmd, Shift):
        u = _current(state, cmd.update_id)
        if u is None:
            raise Conflict(f"update {cmd.update_id} is not in progress", field="update_id")
        if not u.healthy:
            raise Conflict("the candidate has not passed its health check", field="health")
        schedule = u.schedule()
        if not 0 <= cmd.stage < len(schedule):
            raise Invalid(f"stage must be 0-{len(schedule) - 1}", field="stage")
        if cmd.stage <= u.stage:
            return []
        share = schedule[cmd.stage]
        weights = split(state.primary, u.slot, share)
        cause = f"{u.kind} to {u.version_id}: {u.strategy.get('kind')} step {cmd.stage + 1}/{len(schedule)}, {share} %"
        return [TrafficShifted(update_id=u.update_id, stage=cmd.stage, weights=weights, cause=cause)]
    if isinstance(cmd, Finish):
        u = _current(state, cmd.update_id)
        if u is None:
            if state.primary_version is not None and state.history and state.status == "running":
                return []  # finished already (a repeated step)
            raise Conflict(f"update {cmd.update_id} is not in progress", field="update_id")
        if u.stage != len(u.schedule()) - 1:
            raise Conflict("the candidate does not have all the traffic yet", field="stage")
        retired = state.primary if state.primary != u.slot else None
        return [UpdateFinished(update_id=u.update_id, slot=u.slot, version_id=u.version_id, retired_slot=retired)]
    if isinstance(cmd, RollBack):
        u = _current(state, cmd.update_id)
        if u is None:
            return []  # finished, rolled back or stopped meanwhile: nothing to undo
        weights = {state.primary: 100} if state.primary else {}
        return [RolledBack(update_id=u.update_id, cause=cmd.cause, weights=weights, observed=cmd.observed,
                           automatic=cmd.automatic)]  # fmt: skip
    if isinstance(cmd, StartShadow):
        if state.status != "running":
            raise Conflict(f"the deployment is {state.status}", field="deployment_id")
        if state.update is not None or state.shadow is not None:
            raise Conflict("an update or a shadow test is in progress", field="deployment_id")
        if not 1 <= cmd.percent <= 100:
            raise Invalid("a shadow percentage must be 1-100", field="percent")
        return [ShadowStarted(slot=other_slot(state.primary), version_id=cmd.version_id, percent=cmd.percent)]
    if isinstance(cmd, StopShadow):
        if state.shadow is None:
            raise Conflict("no shadow test is running", field="shadow")
        return [ShadowStopped(slot=state.shadow["slot"], reason=cmd.reason)]
    if isinstance(cmd, CountShadow):
        sh = state.shadow
        if sh is None or (sh["slot"], sh["version_id"]) != (cmd.slot, cmd.version_id):
            return []  # that shadow test has ended: its counts end with it
        if min(cmd.copied, cmd.agreed, cmd.errors) < 0 or cmd.agreed > cmd.copied:
            raise Invalid("shadow counts must be >= 0 with agreed <= copied", field="copied")
        return [ShadowCompared(slot=cmd.slot, version_id=cmd.version_id, copied=cmd.copied, agreed=cmd.agreed,
                               errors=cmd.errors)] if cmd.copied or cmd.errors else []  # fmt: skip
    if isinstance(cmd, ReportHealth):
        was_unhealthy = cmd.slot in state.unhealthy
        if state.status == "stopped" or cmd.slot not in state.slots:
            return []
        if not cmd.healthy and not was_unhealthy:
            return [SlotUnhealthy(slot=cmd.slot, cause=cmd.cause or "health check failed")]
        if cmd.healthy and was_unhealthy:
            return [SlotHealed(slot=cmd.slot, cause=cmd.cause)]
        return []
    if isinstance(cmd, Stop):
        if state.status == "stopped":
            return []
        return [DeploymentStopped(reason=cmd.reason, slots=sorted(state.slots))]
    raise Invalid(f"unknown command {type(cmd).__name__}", field="command")


DEPLOYMENTS: Aggregate[Deployment] = Aggregate("deployment", Deployment, evolve, decide)
