"""Pipeline runs on the local engine (a first slice of issue 15 item 3).

- ``PipelineRunService.request``: one write, ``pipelinerun.requested`` (stream ``pipelinerun-<run id>``)
  naming the pipeline version; the reaction ``start-pipeline-run`` starts the version's workflow
  (``pipeline-<id>-v<n>``, compiled by ``domain.pipelines.compile``) under the same run id. A
  redelivery finds the run (Conflict) and does nothing.
- ``PipelineWorkflows``: the local runner's workflow table, which also answers ``pipeline-<id>-v<n>``
  by compiling that version from its stream (so a run resumed after a restart finds its definition).
- ``show``: the run (status, steps from ``Container.runs.show_run``) with per-node status and outputs.

What runs today: choose_model / dataset / config nodes (``runtime.workflows.steps.pipelines``).
Job nodes (train, evaluate, compile, package), conditions on their metrics, approvals and the
kinds whose modules are not merged fail with ``TLM.NotAvailable`` naming the node. On AWS the
per-version state machine is not created yet: the request is refused (503) there.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from domain.errors import ConcurrencyConflict, Conflict, NotFound, Unavailable
from domain.events import new_id
from domain.pipelines.aggregate import PIPELINES
from domain.pipelines.compile import compile_pipeline, stages, workflow_name
from domain.pipelines.runs import PIPELINE_RUNS, RequestPipelineRun
from domain.records import RecordedEvent
from domain.workflows import model as m
from runtime.ports import EventStore
from runtime.reactions.registry import Reaction
from runtime.services.commands import Caller, execute, load

PREFIX = "pipeline-"


def parse_name(name: str) -> tuple[str, int] | None:
    """``pipeline-<id>-v<n>`` -> (id, n); None for other workflow names."""
    if not name.startswith(PREFIX) or "-v" not in name:
        return None
    pid, _, version = name[len(PREFIX) :].rpartition("-v")
    return (pid, int(version)) if pid and version.isdigit() else None


class PipelineWorkflows(Mapping[str, m.Workflow]):
    """The shipped workflows plus every pipeline version, compiled on first use."""

    def __init__(self, shipped: Mapping[str, m.Workflow], store: EventStore) -> None:
        self.shipped = dict(shipped)
        self.store = store
        self.compiled: dict[str, m.Workflow] = {}

    def _compile(self, name: str) -> m.Workflow | None:
        parsed = parse_name(name)
        if parsed is None:
            return None
        pid, version = parsed
        records = self.store.read(PIPELINES.stream_id(pid), until_version=version)
        state = PIPELINES.fold(r.event() for r in records)
        if not state.exists or state.version != version or workflow_name(pid, version) != name:
            return None
        wf = compile_pipeline(state.definition, pipeline_id=pid, version=version)
        self.compiled[name] = wf
        return wf

    def __getitem__(self, name: str) -> m.Workflow:
        wf = self.shipped.get(name) or self.compiled.get(name) or self._compile(name)
        if wf is None:
            raise KeyError(name)
        return wf

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name) is not None

    def get(self, name: str, default: Any = None) -> Any:
        try:
            return self[name]
        except KeyError:
            return default

    def __iter__(self) -> Iterator[str]:
        return iter({**self.shipped, **self.compiled})

    def __len__(self) -> int:
        return len({**self.shipped, **self.compiled})


def run_input(d: dict[str, Any]) -> dict[str, Any]:
    return {
        "project_id": d["project_id"],
        "pipeline_id": d["pipeline_id"],
        "pipeline_version": d["pipeline_version"],
        "pipeline_run_id": d["run_id"],
    }


class PipelineRunService:
    def __init__(
        self,
        store: EventStore,
        authorize: Callable[[Caller, str, str], None],
        runs: Callable[[], Any],
        *,
        local: bool,
        catch_up: Callable[[], None] = lambda: None,
    ) -> None:
        self.store = store
        self.authorize = authorize
        self.runs = runs
        self.local = local
        self.catch_up = catch_up

    def request(self, caller: Caller, pipeline_id: str, *, version: int | None = None) -> dict[str, Any]:
        records = self.store.read(PIPELINES.stream_id(pipeline_id))
        state = PIPELINES.fold(r.event() for r in records)
        if not state.exists or state.deleted:
            raise NotFound(f"no pipeline {pipeline_id!r}", field="pipeline_id")
        self.authorize(caller, state.project_id, "write")
        if version is not None and version > state.version:
            raise NotFound(f"pipeline {pipeline_id!r} has no version {version}", field="version")
        if not self.local:
            raise Unavailable("pipeline runs run on the local engine only for now", field="backend")
        v = version or state.version
        run_id = new_id()
        cmd = RequestPipelineRun(run_id=run_id, pipeline_id=pipeline_id, pipeline_version=v,
                                 project_id=state.project_id, workflow=workflow_name(pipeline_id, v))  # fmt: skip
        execute(self.store, PIPELINE_RUNS, run_id, cmd, caller)
        self.catch_up()  # locally: the reaction starts the run now
        return {"run_id": run_id, "pipeline_id": pipeline_id, "pipeline_version": v, "workflow": cmd.workflow}

    def show(self, caller: Caller, run_id: str) -> dict[str, Any]:
        run, _ = load(self.store, PIPELINE_RUNS, run_id)
        if not run.exists:
            raise NotFound(f"no pipeline run {run_id!r}", field="run_id")
        self.authorize(caller, run.project_id, "read")
        try:
            details = self.runs().show_run(run_id)
        except NotFound:
            details = {"status": "starting", "steps": []}
        pipeline = PIPELINES.fold(
            r.event() for r in self.store.read(PIPELINES.stream_id(run.pipeline_id), until_version=run.pipeline_version)
        )
        nodes = {}
        steps = details.get("steps") or []
        ended = details.get("status") in ("succeeded", "failed", "cancelled")
        for i, group in enumerate(stages(pipeline.definition), start=1):
            for nid in group:
                # a node inside a Parallel stage has no top-level steps: it shows its stage's
                if len(group) > 1:
                    mine = [s for s in steps if s.get("step") == f"Stage {i}"]
                else:
                    mine = [s for s in steps if s.get("step") == nid or str(s.get("step", "")).startswith(f"{nid} ")]
                if nid in run.outputs:
                    status = "recorded"
                elif mine:
                    status = str(mine[-1].get("status"))
                else:
                    status = "skipped" if ended else "pending"
                error = mine[-1].get("error") if mine and nid not in run.outputs else None
                nodes[nid] = {"status": status, "outputs": run.outputs.get(nid), "error": error}
        return {
            "run_id": run_id,
            "pipeline_id": run.pipeline_id,
            "pipeline_version": run.pipeline_version,
            "status": details.get("status"),
            "error": details.get("error"),
            "cause": details.get("cause"),
            "nodes": nodes,
        }


def start_reaction(store: EventStore, workflows: Callable[[], Any]) -> Reaction:
    """``start-pipeline-run``: a request starts its version's workflow under its run id."""

    def handle(event: RecordedEvent) -> None:
        d = event.data
        try:
            workflows().start(d["workflow"], run_input(d), run_id=d["run_id"])
        except (Conflict, ConcurrencyConflict):
            return  # started already (a redelivery)

    return Reaction("start-pipeline-run", frozenset({"pipelinerun.requested"}), handle)
