"""The ``studies`` view: one row per study (key: the study id), partitioned by ``project_id``, which
``GET /projects/{id}/studies`` reads (``StudiesService.list``) instead of the runs view.

The row folds the study's own stream only (``study-<id>``), so stream order is all it relies on.
It keeps what a list shows (name, strategy, status, counts, the best values, created and updated
times) and, to keep the best trial exact for several objectives, the values of the feasible
completed trials (``done``: number -> values; at most ``MAX_TRIALS`` small lists). ``best_trial``
is the domain's rule (``domain.studies.study.Study.best``): the best first objective on the Pareto
front, the earliest trial on a tie.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from domain.projection import Row
from domain.records import RecordedEvent
from runtime import projections

PREFIX = "study-"
STATES = ("asked", "running", "complete", "pruned", "failed")


def best_of(done: dict[str, list[float]], directions: list[str]) -> int | None:
    """The best trial number among ``done`` (feasible completed trials' values), as ``Study.best``."""
    signs = [1 if d == "maximize" else -1 for d in directions]
    keyed = {int(n): [s * v for s, v in zip(signs, vals, strict=False)] for n, vals in done.items()}

    def dominated(a: list[float]) -> bool:
        return any(all(x >= y for x, y in zip(b, a, strict=True)) and b != a for b in keyed.values())

    front = [n for n, k in keyed.items() if not dominated(k)]
    if not front:
        return None
    return max(front, key=lambda n: (keyed[n][0], -n))


def status_of(row: Row) -> str:
    """The status ``StudiesService.get`` answers."""
    fin = row.get("finished_reason")
    if fin:
        return "finished" if fin not in ("failed", "cancelled") else str(fin)
    return "cancelling" if row.get("cancel_requested") else "running"


class StudiesView:
    view = "studies"

    def keys(self, event: RecordedEvent) -> Sequence[str]:
        if not event.type.startswith("study.") or not event.stream_id.startswith(PREFIX):
            return []
        return [event.stream_id[len(PREFIX) :]]

    def apply(self, key: str, row: Row | None, event: RecordedEvent) -> Row | None:
        d, t = event.data, event.type
        at = event.recorded_at.isoformat()
        if t == "study.requested":
            return {"study_id": d["study_id"], "project_id": d["project_id"], "name": d["name"],
                    "strategy": d["strategy"], "directions": [o["direction"] for o in d["objectives"]],
                    "states": {}, "done": {}, "best_trial": None, "best_value": None, "finished_reason": None,
                    "cancel_requested": False, "status": "running", "counts": dict.fromkeys(STATES, 0),
                    "created_at": at, "updated_at": at, "created_by": event.metadata.actor}  # fmt: skip
        if row is None:
            return None
        row = {**row, "states": dict(row["states"]), "done": dict(row["done"]), "updated_at": at}
        number = str(d.get("number")) if "number" in d else None
        if t == "study.trial_asked" and number is not None:
            row["states"][number] = "asked"
        elif t == "study.trial_running" and number is not None and row["states"].get(number) == "asked":
            row["states"][number] = "running"
        elif t in ("study.trial_pruned", "study.trial_failed", "study.trial_completed") and number is not None:
            if row["states"].get(number) in ("asked", "running"):
                row["states"][number] = {"study.trial_pruned": "pruned", "study.trial_failed": "failed"}.get(
                    t, "complete"
                )
                if t == "study.trial_completed" and d.get("feasible", True):
                    row["done"][number] = [float(v) for v in d["values"]]
        elif t == "study.cancel_requested":
            row["cancel_requested"] = True
        elif t == "study.finished":
            row["finished_reason"] = d["reason"]
        elif t == "study.resumed":
            row["finished_reason"], row["cancel_requested"] = None, False
        counts = dict.fromkeys(STATES, 0)
        for s in row["states"].values():
            counts[s] += 1
        best = best_of(row["done"], row["directions"])
        row.update(counts=counts, best_trial=best, best_value=row["done"][str(best)] if best is not None else None,
                   status=status_of(row))  # fmt: skip
        return row


STUDIES_VIEW = projections.register(StudiesView())


def list_row(row: Row) -> dict[str, Any]:
    """A row as ``GET /projects/{id}/studies`` answers it (the shape the runs-view list had, plus
    the best trial's number and the last change)."""
    return {"study_id": row["study_id"], "name": row["name"], "strategy": row["strategy"], "status": row["status"],
            "counts": dict(row["counts"]), "created_at": row["created_at"], "best_value": row["best_value"],
            "best_trial": row["best_trial"], "updated_at": row["updated_at"]}  # fmt: skip
