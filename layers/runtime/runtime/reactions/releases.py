"""Reactions of the release center (one write, many reactions):

- ``start-release-run`` (``deployment.update_requested``): run the ``release`` workflow under the
  run id the request recorded (a redelivery finds the run: Conflict = started). A request that
  cannot start at all is rolled back with that cause.
- ``release-run-outcome`` (``workflowrun.failed|cancelled``): a release run that ended without
  settling its update (its steps finish or roll back) rolls the update back with the run's cause.
- ``serving-slots`` (``deployment.update_finished|rolled_back|stopped|shadow_started|shadow_stopped``):
  start or stop serving slots through the ``ServingBackend`` port: the retired slot after a
  finish, the candidate after a rollback, every slot after a stop; the shadow slot.

All idempotent: stopping a slot that is gone is a no-op, starting a running slot returns it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from domain.errors import ConcurrencyConflict, Conflict, DomainError, NotFound
from domain.records import RecordedEvent
from domain.releases import deployment as dep
from domain.releases import versions as v
from domain.workflows import events as wev
from runtime.ports import EventStore
from runtime.reactions.registry import Reaction
from runtime.services.commands import Caller, execute, load

WORKFLOW = "release"
SYSTEM = Caller(user_id="system:reactions")
SLOT_EVENTS = frozenset({dep.UpdateFinished.event_type, dep.RolledBack.event_type, dep.DeploymentStopped.event_type,
                         dep.ShadowStarted.event_type, dep.ShadowStopped.event_type})  # fmt: skip


def release_run_input(deployment_id: str, d: dict[str, Any], project_id: str) -> dict[str, Any]:
    return {"deployment_id": deployment_id, "update_id": d["update_id"], "project_id": project_id,
            "version_id": d["version_id"], "kind": d["kind"], "run_id": d["run_id"]}  # fmt: skip


def _caller(event: RecordedEvent, reason: str | None = None) -> Caller:
    return Caller(SYSTEM.user_id, correlation_id=event.metadata.correlation_id or event.stream_id, reason=reason)


class ReleaseReactions:
    def __init__(self, *, store: EventStore, workflows: Callable[[], Any], serving: Callable[[], Any]) -> None:
        self.store = store
        self.workflows = workflows
        self.serving = serving

    def reactions(self) -> list[Reaction]:
        return [
            Reaction("start-release-run", frozenset({dep.UpdateRequested.event_type}), self.start_run),
            Reaction("release-run-outcome", frozenset({wev.RunFailed.event_type, wev.RunCancelled.event_type}),
                     self.run_outcome),  # fmt: skip
            Reaction("serving-slots", SLOT_EVENTS, self.slots),
        ]

    def _deployment_id(self, event: RecordedEvent) -> str:
        return event.stream_id.removeprefix(dep.DEPLOYMENTS.stream_id(""))

    def _rollback(self, deployment_id: str, update_id: str, cause: str, event: RecordedEvent) -> None:
        with contextlib.suppress(Conflict):
            execute(self.store, dep.DEPLOYMENTS, deployment_id, dep.RollBack(update_id=update_id, cause=cause),
                    _caller(event, cause), retries=3)  # fmt: skip

    def start_run(self, event: RecordedEvent) -> None:
        did = self._deployment_id(event)
        state, _ = load(self.store, dep.DEPLOYMENTS, did)
        d = event.data
        if state.update is None or state.update.update_id != d["update_id"]:
            return  # settled (rolled back by hand, stopped) before its run started
        try:
            self.workflows().start(WORKFLOW, release_run_input(did, d, state.project_id), run_id=d["run_id"])
        except (Conflict, ConcurrencyConflict):
            return  # started already
        except DomainError as e:
            self._rollback(did, d["update_id"], f"could not start the release: {e}", event)

    def run_outcome(self, event: RecordedEvent) -> None:
        records = self.store.read(event.stream_id)
        started = next((r for r in records if r.type == wev.RunStarted.event_type), None)
        run_input = (started.data.get("input") or {}) if started else {}
        if not run_input.get("deployment_id") or not run_input.get("update_id"):
            return
        recorded = [r for r in records if r.type == wev.FailureRecorded.event_type]
        cause = str(recorded[-1].data.get("cause", "")) if recorded else str(event.data.get("cause") or "")
        status = "cancelled" if event.type == wev.RunCancelled.event_type else "failed"
        self._rollback(str(run_input["deployment_id"]), str(run_input["update_id"]),
                       f"the release run {status}: {cause}".rstrip(": "), event)  # fmt: skip

    def _stop(self, deployment_id: str, slot: str | None) -> None:
        if slot:
            with contextlib.suppress(NotFound):
                self.serving().stop(deployment_id, slot)

    def slots(self, event: RecordedEvent) -> None:
        did, d = self._deployment_id(event), event.data
        if event.type == dep.UpdateFinished.event_type:
            self._stop(did, d.get("retired_slot"))
        elif event.type == dep.RolledBack.event_type:
            asked = dep.UpdateRequested.event_type
            reqs = [r for r in self.store.read(event.stream_id) if r.type == asked]
            req = next((r for r in reqs if r.data["update_id"] == d["update_id"]), None)
            state, _ = load(self.store, dep.DEPLOYMENTS, did)
            if req is not None and req.data["slot"] != state.primary:
                self._stop(did, req.data["slot"])
        elif event.type == dep.DeploymentStopped.event_type:
            for slot in d.get("slots") or dep.SLOTS:
                self._stop(did, slot)
        elif event.type == dep.ShadowStopped.event_type:
            self._stop(did, d["slot"])
        elif event.type == dep.ShadowStarted.event_type:
            state, _ = load(self.store, dep.DEPLOYMENTS, did)
            if state.shadow is None or state.shadow["slot"] != d["slot"]:
                return  # stopped meanwhile
            version, _ = load(self.store, v.VERSIONS, d["version_id"])
            from runtime.workflows.steps.release import serving_spec

            slot = dep.Slot(version_id=version.version_id, params=version.params,
                            model_uri=version.files[v.PACKAGE]["blob"])  # fmt: skip
            with contextlib.suppress(Conflict):
                self.serving().start(serving_spec(did, d["slot"], slot))
