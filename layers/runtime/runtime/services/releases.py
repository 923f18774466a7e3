"""Deployments and predictions (issue 14, parts 2-4).

- ``start`` / ``update`` / ``rollback`` each record one ``deployment.update_requested`` (after
  every check: the version has a compiled package whose blobs exist, its runtime is served, the
  strategy and thresholds are valid) and return; the start-release-run reaction runs the
  ``release`` workflow for it (launch the slot -> wait until healthy -> shift -> bake -> finish or
  roll back; ``runtime.workflows.release_workflow``).
- ``rollback`` while an update is in progress rolls that update back at once (traffic to the
  primary); otherwise it is an update back to the previous primary version, whose artifacts are
  checked here and whose slot must pass its health check before any traffic moves.
- ``stop``, ``shadow`` / ``stop_shadow``: one event each; the serving-slots reaction starts or
  stops the processes (``runtime.reactions.releases``).
- ``predict``: the slot by the traffic split (weighted choice per request), a shadow copy for
  ``percent`` of the requests (its answer compared, never returned). The comparison counts are
  events (``deployment.shadow_compared``), written in batches: once ``SHADOW_FLUSH_TEXTS`` texts
  or ``SHADOW_FLUSH_S`` seconds have gathered, and before the shadow test stops; ``show`` adds
  the counts not written yet. A crash loses at most one batch.

Authorization: viewer reads and predicts, editor deploys.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from domain.errors import Conflict, DomainError, Invalid, NotFound, TooLarge
from domain.events import new_id
from domain.releases import deployment as dep
from domain.releases import registry
from domain.releases import versions as v
from domain.releases.params import SERVED_RUNTIMES
from domain.releases.traffic import copy_to_shadow, route, validate_strategy, validate_thresholds
from runtime.ports import BlobStore, EventStore, ServingBackend
from runtime.services.access import Access
from runtime.services.commands import Caller, Change, execute, execute_many, load
from runtime.services.model_versions import VersionService, _fold

MAX_PREDICT_TEXTS = 64  # limits.max_predict_texts
MAX_TEXT_CHARS = 10_000
SHADOW_FLUSH_TEXTS = 64
SHADOW_FLUSH_S = 10.0
SHADOW = Caller("system:shadow")  # the actor of the comparison counts
COUNTS = ("copied", "agreed", "errors")
DEFAULT_PREDICT_TIMEOUT_S = 30.0


def history_item(r: Any) -> dict[str, Any]:
    d = r.data
    cause = d.get("cause") or d.get("reason") or r.metadata.reason or ""
    return {"type": r.type, "at": r.recorded_at.isoformat(), "by": r.metadata.actor, "cause": cause,
            **{k: d[k] for k in ("version_id", "slot", "weights", "kind", "update_id", "percent", "observed",
                                 "automatic", "stage") if k in d}}  # fmt: skip


class DeploymentService:
    def __init__(
        self,
        *,
        store: EventStore,
        blobs: BlobStore,
        access: Access,
        versions: VersionService,
        serving: Callable[[], ServingBackend],
        catch_up: Callable[[], None] = lambda: None,
        rng: random.Random | None = None,
    ) -> None:
        self.store = store
        self.blobs = blobs
        self.access = access
        self.versions = versions
        self.serving = serving
        self.catch_up = catch_up
        self.rng = rng or random.Random()
        self._shadow: dict[str, dict[str, Any]] = {}  # counts not written yet, per deployment
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ checks
    def _deployable(self, caller: Caller, version_id: str, params: dict[str, Any] | None = None) -> v.ModelVersion:
        state = self.versions.state(caller, version_id, "editor")
        if v.PACKAGE not in state.files or v.ONNX not in state.files:
            raise Invalid(f"version {version_id} has no compiled artifact (compile the model and create the "
                          "version from the compile)", field="version_id")  # fmt: skip
        missing = [p for p in (v.PACKAGE, v.ONNX) if not self.blobs.exists(state.files[p]["blob"])]
        if missing:
            raise Conflict(f"the artifacts of {version_id} are gone: {', '.join(missing)}", field="version_id")
        runtime = (params or state.params).get("runtime", "onnxruntime-int8")
        if runtime not in SERVED_RUNTIMES:
            raise Invalid(f"runtime {runtime} is not served; use one of {', '.join(SERVED_RUNTIMES)}",
                          field="params.runtime")  # fmt: skip
        return state

    def _request(self, version: v.ModelVersion, kind: Any, strategy: dict[str, Any] | None,
                 thresholds: dict[str, Any] | None, cause: str) -> dep.RequestUpdate:  # fmt: skip
        return dep.RequestUpdate(
            update_id=new_id()[:16], run_id=new_id(), kind=kind, version_id=version.version_id,
            params=dict(version.params), strategy=validate_strategy(strategy).model_dump(),
            thresholds=validate_thresholds(thresholds).model_dump(), model_uri=version.files[v.PACKAGE]["blob"],
            cause=cause,
        )  # fmt: skip

    def _state(self, caller: Caller, deployment_id: str, role: str = "viewer",
               as_of: datetime | None = None) -> dep.Deployment:  # fmt: skip
        folded, _ = _fold(self.store, dep.DEPLOYMENTS, deployment_id, as_of)
        state: dep.Deployment = folded
        if not state.exists:
            raise NotFound(f"no deployment {deployment_id!r}", field="deployment_id")
        self.access.require(caller, state.project_id, role)
        return state

    # ------------------------------------------------------------------ use cases
    def start(self, caller: Caller, version_id: str, *, name: str = "",
              thresholds: dict[str, Any] | None = None) -> dict[str, Any]:  # fmt: skip
        version = self._deployable(caller, version_id)
        if len(name) > 128:
            raise Invalid("at most 128 characters", field="name")
        deployment_id = new_id()[:16]
        first = self._request(version, "start", None, thresholds, f"start {version_id}")
        cmd = dep.CreateDeployment(deployment_id=deployment_id, project_id=version.project_id,
                                   model_id=version.model_id, name=name or version.model_id, first=first)  # fmt: skip
        add = registry.AddDeployment(deployment_id=deployment_id)
        changes = [Change(dep.DEPLOYMENTS, deployment_id, cmd), Change(registry.REGISTRY, version.project_id, add)]
        execute_many(self.store, changes, caller, retries=2)
        self.catch_up()
        return self.show(caller, deployment_id)

    def update(self, caller: Caller, deployment_id: str, version_id: str, *, strategy: dict[str, Any] | None = None,
               thresholds: dict[str, Any] | None = None) -> dict[str, Any]:  # fmt: skip
        state = self._state(caller, deployment_id, "editor")
        version = self._deployable(caller, version_id)
        if version.model_id != state.model_id:
            raise Invalid(f"{version_id} is not a version of {state.model_id}", field="version_id")
        if version_id == state.primary_version:
            raise Conflict(f"{version_id} is already deployed", field="version_id")
        cmd = self._request(version, "update", strategy, thresholds, f"update to {version_id}")
        execute(self.store, dep.DEPLOYMENTS, deployment_id, cmd, caller)
        self.catch_up()
        return self.show(caller, deployment_id)

    def rollback(self, caller: Caller, deployment_id: str, *, reason: str = "") -> dict[str, Any]:
        state = self._state(caller, deployment_id, "editor")
        if state.update is not None and state.primary is not None:
            cmd = dep.RollBack(update_id=state.update.update_id, cause=reason or "manual rollback", automatic=False)
            execute(self.store, dep.DEPLOYMENTS, deployment_id, cmd, caller)
            self.catch_up()
            return self.show(caller, deployment_id)
        target = state.previous_version
        if target is None:
            raise Conflict("no previous version to roll back to", field="deployment_id")
        version = self._deployable(caller, target)  # pre-check: artifacts exist (health: the workflow)
        req = self._request(version, "rollback", None, None, reason or f"manual rollback to {target}")
        execute(self.store, dep.DEPLOYMENTS, deployment_id, req, caller)
        self.catch_up()
        return self.show(caller, deployment_id)

    def stop(self, caller: Caller, deployment_id: str, *, reason: str = "") -> dict[str, Any]:
        self._state(caller, deployment_id, "editor")
        execute(self.store, dep.DEPLOYMENTS, deployment_id, dep.Stop(reason=reason or "stopped"), caller, retries=2)
        self.catch_up()
        return self.show(caller, deployment_id)

    def shadow(self, caller: Caller, deployment_id: str, version_id: str, percent: int) -> dict[str, Any]:
        state = self._state(caller, deployment_id, "editor")
        version = self._deployable(caller, version_id)
        if version.model_id != state.model_id:
            raise Invalid(f"{version_id} is not a version of {state.model_id}", field="version_id")
        cmd = dep.StartShadow(version_id=version_id, percent=percent)
        execute(self.store, dep.DEPLOYMENTS, deployment_id, cmd, caller)
        with self._lock:
            self._shadow.pop(deployment_id, None)
        self.catch_up()
        return self.show(caller, deployment_id)

    def stop_shadow(self, caller: Caller, deployment_id: str) -> dict[str, Any]:
        self._state(caller, deployment_id, "editor")
        self._flush_shadow(deployment_id)
        execute(self.store, dep.DEPLOYMENTS, deployment_id, dep.StopShadow(reason="stopped by request"), caller)
        self.catch_up()
        return self.show(caller, deployment_id)

    # ------------------------------------------------------------------ reads
    def show(self, caller: Caller, deployment_id: str, *, as_of: datetime | None = None) -> dict[str, Any]:
        state = self._state(caller, deployment_id, as_of=as_of)
        records = self.store.read(dep.DEPLOYMENTS.stream_id(deployment_id), until_time=as_of)
        return {
            "deployment_id": state.deployment_id,
            "project_id": state.project_id,
            "model_id": state.model_id,
            "name": state.name,
            "status": state.status,
            "primary": state.primary,
            "primary_version": state.primary_version,
            "previous_version": state.previous_version,
            "weights": state.weights,
            "slots": {k: s.model_dump() for k, s in state.slots.items()},
            "update": state.update.model_dump() if state.update else None,
            "shadow": self._shadow_doc(deployment_id, state.shadow, live=as_of is None),
            "unhealthy": state.unhealthy,
            "history": [history_item(r) for r in records],
            **({"as_of": as_of.isoformat()} if as_of else {}),
        }

    def list_deployments(self, caller: Caller, project_id: str) -> list[dict[str, Any]]:
        self.access.require(caller, project_id, "viewer")
        reg, _ = load(self.store, registry.REGISTRY, project_id)
        out = []
        for did in reversed(reg.ids):
            s, _ = load(self.store, dep.DEPLOYMENTS, did)
            out.append({"deployment_id": did, "name": s.name, "model_id": s.model_id, "status": s.status,
                        "primary_version": s.primary_version, "weights": s.weights})  # fmt: skip
        return out

    # ------------------------------------------------------------------ predictions
    def predict(self, caller: Caller, deployment_id: str, texts: Sequence[Any]) -> dict[str, Any]:
        if not isinstance(texts, list | tuple) or not texts:
            raise Invalid("texts must be a non-empty list of strings", field="texts")
        if len(texts) > MAX_PREDICT_TEXTS:
            raise TooLarge(f"{len(texts)} texts is over limits.max_predict_texts = {MAX_PREDICT_TEXTS}",
                           field="texts")  # fmt: skip
        for i, t in enumerate(texts):
            if not isinstance(t, str) or not t.strip():
                raise Invalid("each text must be a non-empty string", field=f"texts.{i}")
            if len(t) > MAX_TEXT_CHARS:
                raise TooLarge(f"a text is at most {MAX_TEXT_CHARS} characters", field=f"texts.{i}")
        state = self._state(caller, deployment_id, "viewer")
        if state.status in ("stopped", "failed") or not state.weights:
            raise Conflict(f"deployment {deployment_id} is {state.status}: it takes no predictions",
                           field="deployment_id")  # fmt: skip
        slot = route(state.weights, self.rng.random())
        version_id = state.slots[slot].version_id
        preds = self.serving().invoke(deployment_id, slot, list(texts))
        out = [{"label": p.label, "score": p.score, "scores": p.scores} for p in preds]
        if state.shadow and copy_to_shadow(int(state.shadow["percent"]), self.rng.random()):
            self._compare(deployment_id, state.shadow, list(texts), [p.label for p in preds])
        return {"deployment_id": deployment_id, "slot": slot, "version_id": version_id, "predictions": out}

    def _compare(self, deployment_id: str, shadow: dict[str, Any], texts: list[str], labels: list[str]) -> None:
        try:
            got = [p.label for p in self.serving().invoke(deployment_id, shadow["slot"], texts)]
            agreed, errors = sum(a == b for a, b in zip(got, labels, strict=False)), 0
        except (DomainError, OSError):
            agreed, errors = 0, 1
        with self._lock:
            key = (shadow["slot"], shadow["version_id"])
            c = self._shadow.get(deployment_id)
            if c is None or c["key"] != key:
                c = self._shadow[deployment_id] = {"key": key, "since": time.monotonic(), **dict.fromkeys(COUNTS, 0)}
            c["copied"] += len(texts)
            c["agreed"] += agreed
            c["errors"] += errors
            due = c["copied"] >= SHADOW_FLUSH_TEXTS or time.monotonic() - c["since"] >= SHADOW_FLUSH_S
        if due:
            self._flush_shadow(deployment_id)

    def _flush_shadow(self, deployment_id: str) -> None:
        """Write the counts gathered for ``deployment_id`` as one ``deployment.shadow_compared``."""
        with self._lock:
            c = self._shadow.pop(deployment_id, None)
        if c is None:
            return
        (slot, version_id) = c["key"]
        cmd = dep.CountShadow(slot=slot, version_id=version_id, **{k: c[k] for k in COUNTS})
        try:
            execute(self.store, dep.DEPLOYMENTS, deployment_id, cmd, SHADOW, retries=3)
        except DomainError:  # not the prediction's failure: keep them for the next flush
            with self._lock:
                now = self._shadow.setdefault(deployment_id, {**c, **dict.fromkeys(COUNTS, 0)})
                for k in COUNTS:
                    now[k] += c[k]

    def _shadow_doc(self, deployment_id: str, shadow: dict[str, Any] | None, *, live: bool) -> dict[str, Any] | None:
        if not shadow:
            return None
        written = shadow.get("compared") or dict.fromkeys(COUNTS, 0)
        with self._lock:
            c = self._shadow.get(deployment_id) if live else None
            pending = c if c is not None and c["key"] == (shadow["slot"], shadow["version_id"]) else {}
        return {**shadow, "compared": {k: written.get(k, 0) + pending.get(k, 0) for k in COUNTS}}
