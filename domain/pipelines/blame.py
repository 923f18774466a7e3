"""Per-node blame of a pipeline: who added each node and who last changed it (and what), folded
from the stored records of one ``pipeline-<id>`` stream (as ``domain.configs.blame`` per field)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from domain.pipelines.aggregate import PipelineCreated, PipelineSaved
from domain.records import RecordedEvent


def _who(rec: RecordedEvent) -> dict[str, Any]:
    m = rec.metadata
    return {
        "version": rec.version,
        "actor": m.actor,
        "occurred_at": m.occurred_at.isoformat(),
        "reason": m.reason,
        "command_id": m.causation_id,
    }


def node_of(path: str) -> str | None:
    parts = path.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "nodes" else None


def blame(records: Sequence[RecordedEvent]) -> dict[str, dict[str, Any]]:
    """node id -> {"kind", "added": who, "changed": who + "paths"} for the state after ``records``."""
    out: dict[str, dict[str, Any]] = {}
    for rec in records:
        evt = rec.event()
        if isinstance(evt, PipelineCreated):
            who = _who(rec)
            out = {
                nid: {"node": nid, "kind": n.get("kind"), "added": who, "changed": {**who, "paths": []}}
                for nid, n in evt.definition["nodes"].items()
            }
        elif isinstance(evt, PipelineSaved):
            nodes = evt.definition["nodes"]
            who = _who(rec)
            touched: dict[str, list[str]] = {}
            for c in evt.changes:
                nid = node_of(c.path)
                if nid is not None:
                    touched.setdefault(nid, []).append(c.path)
            kept = {nid: e for nid, e in out.items() if nid in nodes}
            for nid, n in nodes.items():
                if nid not in kept:
                    kept[nid] = {"node": nid, "kind": n.get("kind"), "added": who, "changed": {**who, "paths": []}}
                elif nid in touched:
                    kept[nid] = {**kept[nid], "kind": n.get("kind"), "changed": {**who, "paths": touched[nid]}}
            out = {nid: kept[nid] for nid in nodes}
    return out
