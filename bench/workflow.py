"""Local workflow runner: overhead per state against a direct function call, and Map concurrency.

1. A 200-state chain of step tasks (each calling the same trivial function) runs through the
   LocalWorkflowRunner on a fresh SQLite event store (durable: synchronous=FULL, and NORMAL for
   comparison), and the same 200 calls are made directly. A 200-state Pass chain shows the cost of
   an instantaneous state. ``fsyncs_per_state``: commits (appends) per state, counted on the
   store; in WAL mode with synchronous=FULL each commit is one fsync of the WAL.
2. A Map of 8 items, each a real subprocess job (LocalJobRunner) sleeping 2 s, at
   max_concurrency 4: ``map_concurrency_efficiency`` = ideal 4 s / measured.

Last line: JSON figures.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from domain.records import AppendResult, NewEvent
from domain.workflows import model as m
from runtime.adapters.local_jobs.runner import LocalJobRunner
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


class CountingStore(SqliteEventStore):
    """Counts commits (each append is one transaction)."""

    commits = 0

    def append(self, stream_id: str, events: Sequence[NewEvent], expected_version: int, **kw: Any) -> AppendResult:
        CountingStore.commits += 1
        return super().append(stream_id, events, expected_version, **kw)


def run_chain(kind: str, synchronous: str) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(Path(tmp) / "bench.db", synchronous=synchronous)
        runner = LocalWorkflowRunner(
            CountingStore(db),
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


SLEEP_JOB = """import json, os, time
time.sleep(float(json.loads(os.environ["SM_HPS"])["sleep"]))
open(os.path.join(os.environ["SM_MODEL_DIR"], "model.bin"), "wb").write(b"w")
"""
MAP_ITEMS, MAP_WIDTH, JOB_S = 8, 4, 2.0


def map_run() -> float:
    """Seconds from start to end of a Map of MAP_ITEMS jobs of JOB_S s at MAP_WIDTH at once."""
    item = m.Workflow(
        name="item",
        start_at="Sleep",
        states=(
            m.JobTask(
                name="Sleep",
                job=m.JobTemplate(program="sleep_job", name_prefix="sleep", hyperparameters={"sleep": "$.sleep"}),
                result_path="$.job",
                end=True,
            ),
        ),
    )
    fan = m.MapState(name="Each", items_path="$.items", iterator=item, max_concurrency=MAP_WIDTH, end=True)
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "sleep_job.py"
        script.write_text(SLEEP_JOB)
        jobs = LocalJobRunner(Path(tmp) / "jobs")
        jobs.register_program("sleep_job", str(script))
        db = Database(Path(tmp) / "bench.db")
        runner = LocalWorkflowRunner(
            SqliteEventStore(db),
            jobs,
            workflows={"map": m.Workflow(name="map", start_at="Each", states=(fan,))},
            substitutions={"ArtifactsUri": str(Path(tmp) / "artifacts")},
            poll_interval_s=0.05,
            time_scale=0,
        )
        t0 = time.perf_counter()
        run_id = runner.start("map", {"items": [{"sleep": JOB_S} for _ in range(MAP_ITEMS)]})
        state = runner.wait(run_id, timeout=120)
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
    results, fsyncs = {}, {}
    for kind in ("step", "pass"):
        for sync in ("FULL", "NORMAL"):
            CountingStore.commits = 0
            elapsed = min(run_chain(kind, sync) for _ in range(2))
            per = (elapsed - base) / N * 1000
            results[(kind, sync)] = per
            fsyncs[kind] = CountingStore.commits / 2 / N
            print(
                f"{kind:4} chain x{N}, synchronous={sync:6}: {elapsed * 1000:8.1f} ms total, "
                f"{per:.3f} ms/state overhead, {fsyncs[kind]:.3f} commits/state"
            )
    print(f"direct calls x{N}: {base * 1000:.3f} ms total ({base / N * 1e6:.2f} us/call)")
    ideal = MAP_ITEMS / MAP_WIDTH * JOB_S
    measured = map_run()
    print(f"map of {MAP_ITEMS} x {JOB_S:.0f} s jobs at concurrency {MAP_WIDTH}: {measured:.2f} s (ideal {ideal:.0f} s)")
    print(
        json.dumps(
            {
                "bench": "workflow",
                "states": N,
                "overhead_per_state_ms": round(results[("step", "FULL")], 3),
                "fsyncs_per_state": round(fsyncs["step"], 3),
                "overhead_per_state_ms_sync_normal": round(results[("step", "NORMAL")], 3),
                "overhead_per_pass_state_ms": round(results[("pass", "FULL")], 3),
                "direct_call_us": round(base / N * 1e6, 3),
                "map_seconds": round(measured, 3),
                "map_concurrency_efficiency": round(ideal / measured, 3),
            }
        )
    )


if __name__ == "__main__":
    main()
