"""Monitoring of deployments (issue 14, part 5): samples of every live slot's
``ServingBackend.metrics`` and ``health`` recorded as ``deployment.metrics_sampled`` events
(stream ``deploymentmetrics-<id>``), read back as series per slot and version
(``domain.releases.monitoring.series``). A slot whose health check fails gets one
``deployment.unhealthy`` event on the deployment (and ``deployment.healed`` when it is back).

Samples are taken by the release workflow's bake step (each poll), by ``tlm deployments show``
/ ``GET /deployments/{id}/metrics`` (``sample=true``), and by ``watch`` (the local server's
background loop)."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from domain.errors import DomainError, NotFound
from domain.releases import deployment as dep
from domain.releases.monitoring import SAMPLES, MetricsSampled, RecordSample, series
from runtime.ports import EventStore, ServingBackend
from runtime.services.access import Access
from runtime.services.commands import Caller, execute, load

MONITOR = Caller(user_id="system:release-monitor")


class ReleaseMonitor:
    def __init__(self, store: EventStore, access: Access, serving: Callable[[], ServingBackend]) -> None:
        self.store = store
        self.access = access
        self.serving = serving

    def sample(self, deployment_id: str) -> list[dict[str, Any]]:
        """Record one sample per slot of a live deployment; returns them."""
        state, _ = load(self.store, dep.DEPLOYMENTS, deployment_id)
        if not state.exists or not state.live:
            return []
        out = []
        for slot, s in sorted(state.slots.items()):
            try:
                h = self.serving().health(deployment_id, slot)
                m = self.serving().metrics(deployment_id, slot)
            except NotFound:
                continue  # not launched yet (or just stopped)
            except DomainError:
                continue
            healthy = h.status == "healthy"
            evt = MetricsSampled(
                slot=slot, version_id=s.version_id, at=time.time(), invocations=m.invocations, errors=m.errors,
                p50_ms=m.p50_ms, p95_ms=m.p95_ms, p99_ms=m.p99_ms, healthy=healthy, restarts=h.restarts,
                weight=state.weights.get(slot, 0),
            )  # fmt: skip
            execute(self.store, SAMPLES, deployment_id, RecordSample(sample=evt), MONITOR, retries=5)
            if h.status != "starting":
                cmd = dep.ReportHealth(slot=slot, healthy=healthy, cause=h.detail or h.status)
                execute(self.store, dep.DEPLOYMENTS, deployment_id, cmd, MONITOR, retries=5)
            out.append(evt.model_dump())
        return out

    def watch(self) -> int:
        """One sample of every deployment that has a live serving slot (the local server calls this
        every 30 s, so a slot that goes unhealthy is recorded without anyone looking); how many."""
        ids = sorted({e.deployment_id for e in self.serving().list()})
        for deployment_id in ids:
            self.sample(deployment_id)
        return len(ids)

    def samples(self, deployment_id: str, *, since: float | None = None,
                as_of: datetime | None = None) -> list[dict[str, Any]]:  # fmt: skip
        records = self.store.read(SAMPLES.stream_id(deployment_id), until_time=as_of)
        rows = [r.data for r in records if r.type == MetricsSampled.event_type]
        return [r for r in rows if since is None or float(r["at"]) >= since]

    def metrics(self, caller: Caller, deployment_id: str, *, sample: bool = False, since: float | None = None,
                as_of: datetime | None = None) -> dict[str, Any]:  # fmt: skip
        state, _ = load(self.store, dep.DEPLOYMENTS, deployment_id)
        if not state.exists:
            raise NotFound(f"no deployment {deployment_id!r}", field="deployment_id")
        self.access.require(caller, state.project_id, "viewer")
        if sample and as_of is None:
            self.sample(deployment_id)
        rows = self.samples(deployment_id, since=since, as_of=as_of)
        by_version: dict[str, dict[str, Any]] = {}
        for s in series(rows):
            agg = by_version.setdefault(s["version_id"], {"version_id": s["version_id"], "invocations": 0, "errors": 0})
            agg["invocations"] += s["invocations"]
            agg["errors"] += s["errors"]
        return {
            "deployment_id": deployment_id,
            "at": datetime.now(UTC).isoformat(),
            "series": series(rows),
            "versions": list(by_version.values()),
        }
