"""Local workflow runner overhead per state against a direct function call, in the same run.

A 200-state chain of step tasks (each calling the same trivial function) runs through the
LocalWorkflowRunner on a fresh SQLite event store (durable: synchronous=FULL, and NORMAL for
comparison), and the same 200 calls are made directly. A 200-state Pass chain shows the cost of
an instantaneous state (one event instead of two). Last line: JSON figures.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Any

from domain.workflows import model as m
from runtime.adapters.local_workflows import LocalWorkflowRunner
from runtime.adapters.sqlite.db import Database
from runtime.adapters.sqlite.event_store import SqliteEventStore

N = 200


def work(payload: Any) -> dict[str, int]:
    return {"n": len(payload) if isinstance(payload, dict) else 0}


def chain(kind: str) -> m.Workflow:
    states: list[Any] = []
    for i in range(N):
        nxt = f"S{i + 1}" if i + 1 < N else None
        common = {"name": f"S{i}", "next": nxt, "end": nxt is None}
        if kind == "step":
            states.append(m.StepTask(function="work", parameters={"i": i}, result_path="$.last", **common))
        else:
            states.append(m.Pass(result={"i": i}, result_path="$.last", **common))
    return m.Workflow(name=f"bench-{kind}", start_at="S0", states=tuple(states))


class NoJobs:
    def start(self, spec: Any) -> str:
        raise NotImplementedError

    def describe(self, name: str) -> Any:
        raise NotImplementedError

    def stop(self, name: str) -> None: ...

    def logs(self, name: str, *, start: int = 0) -> tuple[list[str], int]:
        return [], start


def run_chain(kind: str, synchronous: str) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(Path(tmp) / "bench.db", synchronous=synchronous)
        runner = LocalWorkflowRunner(
            SqliteEventStore(db),
            NoJobs(),
            workflows={f"bench-{kind}": chain(kind)},
            steps={"work": work},
            time_scale=0,
        )
        t0 = time.perf_counter()
        run_id = runner.start(f"bench-{kind}", {"x": 1})
        state = runner.wait(run_id, timeout=300)
        elapsed = time.perf_counter() - t0
        assert state.status == "succeeded", state
        db.close()
        return elapsed


def direct() -> float:
    t0 = time.perf_counter()
    doc: dict[str, Any] = {"x": 1}
    for i in range(N):
        doc = {**doc, "last": work({"i": i})}
    return time.perf_counter() - t0


def main() -> None:
    base = min(direct() for _ in range(5))
    results = {}
    for kind in ("step", "pass"):
        for sync in ("FULL", "NORMAL"):
            elapsed = min(run_chain(kind, sync) for _ in range(2))
            per = (elapsed - base) / N * 1000
            results[(kind, sync)] = per
            print(
                f"{kind:4} chain x{N}, synchronous={sync:6}: {elapsed * 1000:8.1f} ms total, "
                f"{per:.3f} ms/state overhead"
            )
    print(f"direct calls x{N}: {base * 1000:.3f} ms total ({base / N * 1e6:.2f} us/call)")
    print(
        json.dumps(
            {
                "bench": "workflow",
                "states": N,
                "overhead_per_state_ms": round(results[("step", "FULL")], 3),
                "overhead_per_state_ms_sync_normal": round(results[("step", "NORMAL")], 3),
                "overhead_per_pass_state_ms": round(results[("pass", "FULL")], 3),
                "direct_call_us": round(base / N * 1e6, 3),
            }
        )
    )


if __name__ == "__main__":
    main()
