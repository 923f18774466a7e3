"""The release workflow's steps (``runtime.workflows.release_workflow``): each re-reads the
deployment, does its part through the ``ServingBackend`` port and the deployment aggregate, and
answers ``{"next": ...}``. An update that is no longer current answers ``ended``.

- launch: start the candidate slot with the version's serving parameters (a slot left from an
  earlier update with other parameters is stopped first).
- health: ``healthy`` (recorded), ``failed`` (down for good, or not healthy within the version's
  ``startup_timeout_s``), else ``wait``.
- shift: the next share of the strategy's schedule (``deployment.traffic_shifted``).
- bake: sample the slots' metrics (``deploymentmetrics-*``), judge the candidate's window since
  the shift: ``breach`` | ``finish`` (last share baked) | ``shift`` (next share) | ``wait``.
- finish: the candidate becomes the primary (the serving-slots reaction stops the old slot).
- rollback: traffic back to the primary with the cause (a breach, a failed health check, or the
  error a step raised).
"""

from __future__ import annotations

import contextlib
import json
import time
from typing import Any

from domain.errors import Conflict, NotFound
from domain.releases import deployment as dep
from domain.releases.traffic import Thresholds
from domain.releases.verdict import bake_verdict
from runtime.services.commands import Caller, execute, load

ACTOR = "workflow:release"


def _caller(doc: dict[str, Any], reason: str | None = None) -> Caller:
    return Caller(user_id=ACTOR, correlation_id=str(doc.get("update_id") or "release"), reason=reason)


def serving_spec(deployment_id: str, slot: str, s: dep.Slot) -> Any:
    from runtime.ports import ServingSpec
    from runtime.services.releases import MAX_PREDICT_TEXTS

    p = s.params
    return ServingSpec(
        deployment_id=deployment_id, slot=slot, model_uri=s.model_uri, runtime=p.get("runtime", "onnxruntime-int8"),
        threads=int(p.get("threads", 1)), max_batch=int(p.get("max_batch", 16)),
        batch_delay_ms=float(p.get("batch_delay_ms", 2)), max_seq_len=int(p.get("max_seq_len", 128)),
        timeout_s=float(p.get("timeout_s", 10)), max_texts=MAX_PREDICT_TEXTS,
        instance_type=p.get("instance_type") or "ml.m5.large", instance_count=max(1, int(p.get("min_instances", 1))),
    )  # fmt: skip


def steps(container: Any) -> dict[str, Any]:
    store = container.store

    def current(doc: dict[str, Any]) -> tuple[dep.Deployment, dep.Update | None]:
        state, _ = load(store, dep.DEPLOYMENTS, doc["deployment_id"])
        u = state.update if state.update and state.update.update_id == doc["update_id"] else None
        return state, u

    def release_launch(doc: dict[str, Any]) -> dict[str, Any]:
        state, u = current(doc)
        if u is None:
            return {"next": "ended"}
        spec = serving_spec(state.deployment_id, u.slot, state.slots[u.slot])
        serving = container.serving
        try:
            serving.start(spec)
        except Conflict:  # a slot left with other parameters: replace it
            with contextlib.suppress(NotFound):
                serving.stop(state.deployment_id, u.slot)
            serving.start(spec)
        return {"next": "launched", "started_at": time.time(), "slot": u.slot}

    def release_health(doc: dict[str, Any]) -> dict[str, Any]:
        state, u = current(doc)
        if u is None:
            return {"next": "ended"}
        try:
            h = container.serving.health(state.deployment_id, u.slot)
            status, detail = h.status, h.detail
        except NotFound:
            status, detail = "stopped", "the slot is gone"
        if status == "healthy":
            execute(store, dep.DEPLOYMENTS, state.deployment_id, dep.MarkHealthy(update_id=u.update_id),
                    _caller(doc), retries=3)  # fmt: skip
            return {"next": "healthy"}
        limit = float(state.slots[u.slot].params.get("startup_timeout_s", 120))
        waited = time.time() - float((doc.get("launch") or {}).get("started_at") or time.time())
        if status in ("stopped", "unhealthy") or waited > limit:  # never healthy yet: unhealthy = gave up
            why = f"the candidate {u.version_id} did not become healthy"
            return {"next": "failed", "cause": f"{why} ({status}{': ' + detail if detail else ''}, {waited:.0f} s)"}
        return {"next": "wait", "status": status}

    def release_shift(doc: dict[str, Any]) -> dict[str, Any]:
        state, u = current(doc)
        if u is None:
            return {"next": "ended"}
        stage = u.stage + 1
        schedule = u.schedule()
        if stage >= len(schedule):
            return {"next": "shifted", "stage": u.stage, "final": True, "shifted_at": time.time()}
        execute(store, dep.DEPLOYMENTS, state.deployment_id, dep.Shift(update_id=u.update_id, stage=stage),
                _caller(doc), retries=3)  # fmt: skip
        return {"next": "shifted", "stage": stage, "final": stage == len(schedule) - 1, "shifted_at": time.time()}

    def release_bake(doc: dict[str, Any]) -> dict[str, Any]:
        state, u = current(doc)
        if u is None:
            return {"next": "ended"}
        shift = doc.get("shift") or {}
        since = float(shift.get("shifted_at") or time.time())
        container.release_monitor.sample(state.deployment_id)
        window = [s for s in container.release_monitor.samples(state.deployment_id, since=since)
                  if s["slot"] == u.slot]  # fmt: skip
        strategy = u.strategy
        verdict = bake_verdict(window, Thresholds.model_validate(u.thresholds),
                               elapsed_s=time.time() - since, bake_s=float(strategy.get("bake_s") or 0))  # fmt: skip
        if verdict.outcome == "breach":
            return {"next": "breach", "cause": verdict.cause, "observed": verdict.observed}
        if verdict.outcome == "passed":
            return {"next": "finish" if shift.get("final") else "shift", "observed": verdict.observed}
        return {"next": "wait", "observed": verdict.observed}

    def release_finish(doc: dict[str, Any]) -> dict[str, Any]:
        state, u = current(doc)
        if u is None:
            return {"next": "ended"}
        execute(store, dep.DEPLOYMENTS, state.deployment_id, dep.Finish(update_id=u.update_id), _caller(doc),
                retries=3)  # fmt: skip
        return {"next": "finished", "version_id": u.version_id}

    def release_rollback(doc: dict[str, Any]) -> dict[str, Any]:
        run = doc.get("doc") or {}
        bake, health, error = run.get("bake") or {}, run.get("health") or {}, run.get("error")
        if bake.get("next") == "breach":
            cause, observed = str(bake.get("cause")), dict(bake.get("observed") or {})
        elif health.get("next") == "failed":
            cause, observed = str(health.get("cause")), {}
        elif isinstance(error, dict):
            cause, observed = f"step failed: {error.get('Error')}: {str(error.get('Cause'))[:500]}", {}
        else:
            cause, observed = "the release did not complete", {}
        cmd = dep.RollBack(update_id=doc["update_id"], cause=cause, observed=json.loads(json.dumps(observed)))
        execute(store, dep.DEPLOYMENTS, doc["deployment_id"], cmd, _caller(doc, cause), retries=3)
        return {"next": "rolled_back", "cause": cause}

    return {
        "release_launch": release_launch,
        "release_health": release_health,
        "release_shift": release_shift,
        "release_bake": release_bake,
        "release_finish": release_finish,
        "release_rollback": release_rollback,
    }
