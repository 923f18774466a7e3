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

import contextlib
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from typing import Any

from domain.errors import ConcurrencyConflict, Conflict, Forbidden, Invalid, NotFound, Unavailable
from domain.events import new_id
from domain.pipelines.aggregate import PIPELINES
from domain.pipelines.compile import compile_pipeline, stages, workflow_name
from domain.pipelines.runs import PIPELINE_RUNS, DecideApproval, PipelineRun, RequestPipelineRun, descendants
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
        stop_work: Callable[[Caller, str, dict[str, Any]], None] = lambda *_: None,
        project_runs: Callable[[], Any] = lambda: None,
    ) -> None:
        self.stop_work = stop_work
        self.project_runs = project_runs
        self.store = store
        self.authorize = authorize
        self.runs = runs
        self.local = local
        self.catch_up = catch_up

    def request(self, caller: Caller, pipeline_id: str, *, version: int | None = None) -> dict[str, Any]:
        state = self._pipeline(pipeline_id)
        if not state.exists or state.deleted:
            raise NotFound(f"no pipeline {pipeline_id!r}", field="pipeline_id")
        self.authorize(caller, state.project_id, "write")
        if version is not None and version > state.version:
            raise NotFound(f"pipeline {pipeline_id!r} has no version {version}", field="version")
        return self._request(caller, pipeline_id, state.project_id, version or state.version)

    def _request(self, caller: Caller, pipeline_id: str, project_id: str, v: int, *,
                 parent_run_id: str | None = None, force: list[str] | None = None, run_id: str | None = None,
                 trigger: dict[str, Any] | None = None, start_now: bool = True) -> dict[str, Any]:  # fmt: skip
        """``run_id``: given by a trigger's firing (derived from what fired it: a second firing is a
        Conflict on the run's stream, nothing more). ``start_now`` False: asked from inside a reaction,
        which must not catch up itself (the subscription goes on to the start reaction)."""
        if not self.local:
            raise Unavailable("pipeline runs run on the local engine only for now", field="backend")
        run_id = run_id or new_id()
        cmd = RequestPipelineRun(run_id=run_id, pipeline_id=pipeline_id, pipeline_version=v, project_id=project_id,
                                 workflow=workflow_name(pipeline_id, v), parent_run_id=parent_run_id,
                                 force=force or [], trigger=trigger)  # fmt: skip
        execute(self.store, PIPELINE_RUNS, run_id, cmd, caller)
        if start_now:
            self.catch_up()  # locally: the reaction starts the run now
        return {"run_id": run_id, "pipeline_id": pipeline_id, "pipeline_version": v, "workflow": cmd.workflow,
                "parent_run_id": parent_run_id, "force": force or []}  # fmt: skip

    def _run(self, caller: Caller, run_id: str, role: str) -> PipelineRun:
        run, _ = load(self.store, PIPELINE_RUNS, run_id)
        if not run.exists:
            raise NotFound(f"no pipeline run {run_id!r}", field="run_id")
        self.authorize(caller, run.project_id, role)
        return run

    def _pipeline(self, pipeline_id: str, version: int | None = None) -> Any:
        records = self.store.read(PIPELINES.stream_id(pipeline_id), until_version=version)
        return PIPELINES.fold(r.event() for r in records)

    def show(self, caller: Caller, run_id: str) -> dict[str, Any]:
        run = self._run(caller, run_id, "read")
        try:
            details = self.runs().show_run(run_id)
        except NotFound:
            details = {"status": "starting", "steps": []}
        pipeline = self._pipeline(run.pipeline_id, run.pipeline_version)
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
                outputs = run.outputs.get(nid)
                failed = next((s for s in reversed(mine) if s.get("status") == "failed"), None)
                if outputs is not None:
                    status = "reused" if outputs.get("reused_from") else "recorded"
                elif failed is not None:
                    status = "failed"
                elif mine:
                    waiting = pipeline.definition["nodes"][nid]["kind"] == "approval" and nid not in run.approvals
                    status = str(details.get("status")) if ended else ("waiting" if waiting else "running")
                else:
                    status = "skipped" if ended else "pending"
                nodes[nid] = {
                    "kind": pipeline.definition["nodes"][nid]["kind"],
                    "status": status,
                    "started_at": _iso(mine[0].get("started_at")) if mine else None,
                    "ended_at": _iso(mine[-1].get("ended_at")) if mine and (outputs is not None or ended) else None,
                    "duration_s": _span(mine) if mine and (outputs is not None or ended) else None,
                    "outputs": outputs,
                    "launched": run.launched.get(nid),
                    **({"approval": run.approvals.get(nid)} if nid in run.approvals else {}),
                    "jobs": list((outputs or {}).get("jobs") or []),
                    "error": failed.get("error") if failed is not None and outputs is None else None,
                }
        return {
            "run_id": run_id,
            "pipeline_id": run.pipeline_id,
            "pipeline_version": run.pipeline_version,
            "project_id": run.project_id,
            "parent_run_id": run.parent_run_id,
            "force": list(run.force),
            "trigger": run.trigger,
            "status": details.get("status"),
            "started_at": _iso(details.get("started_at")),
            "ended_at": _iso(details.get("ended_at")),
            "duration_s": details.get("duration_s"),
            "error": details.get("error"),
            "cause": details.get("cause"),
            "jobs_launched": sum(len(n["jobs"]) for n in nodes.values()),
            "nodes": nodes,
        }

    def list(self, caller: Caller, pipeline_id: str) -> list[dict[str, Any]]:
        """The pipeline's runs (every version), newest first (from the ``runs`` view)."""
        state = self._pipeline(pipeline_id)
        if not state.exists:
            raise NotFound(f"no pipeline {pipeline_id!r}", field="pipeline_id")
        self.authorize(caller, state.project_id, "read")
        names = {workflow_name(pipeline_id, v) for v in range(1, state.version + 1)}
        out = []
        for row in self.project_runs().rows(project_id=state.project_id):
            if row.get("workflow") not in names:
                continue
            doc = self.show(caller, row["run_id"])
            out.append({k: doc[k] for k in ("run_id", "pipeline_version", "parent_run_id", "status", "started_at",
                                             "ended_at", "duration_s", "jobs_launched")})  # fmt: skip
        return out

    def retry(self, caller: Caller, run_id: str, *, from_node: str | None = None,
              version: int | None = None) -> dict[str, Any]:  # fmt: skip
        """A new run of the pipeline (its latest version unless ``version``) that reuses the outputs of
        this run's nodes whose input hash is unchanged, and runs ``from_node`` (default: the node
        that failed, if any) and its descendants again."""
        run = self._run(caller, run_id, "write")
        pipeline = self._pipeline(run.pipeline_id)
        v = version or pipeline.version
        if v > pipeline.version:
            raise NotFound(f"pipeline {run.pipeline_id!r} has no version {v}", field="version")
        defn = self._pipeline(run.pipeline_id, v).definition
        if from_node is not None and from_node not in defn["nodes"]:
            raise Invalid(f"pipeline {run.pipeline_id} v{v} has no node {from_node!r}", field="from_node")
        doc = self.show(caller, run_id)
        if doc["status"] not in ("succeeded", "failed", "cancelled"):
            raise Conflict(f"run {run_id} is still {doc['status']}; cancel it first", field="run_id")
        if from_node is None:
            from_node = next((n for n, d in doc["nodes"].items() if d["status"] == "failed"), None)
            from_node = from_node if from_node in defn["nodes"] else None
        force = sorted(descendants(defn, from_node)) if from_node else []
        return self._request(caller, run.pipeline_id, run.project_id, v, parent_run_id=run_id, force=force)

    def decide(self, caller: Caller, run_id: str, node: str, *, approve: bool, comment: str = "") -> dict[str, Any]:
        """Approve or reject an approval node of a run. Needs write on the project and to be one of the
        node's ``approvers`` (a role - owner, editor, viewer: that role or above - or a user id)."""
        run = self._run(caller, run_id, "write")
        defn = self._pipeline(run.pipeline_id, run.pipeline_version).definition
        spec = defn["nodes"].get(node)
        if spec is None or spec["kind"] != "approval":
            raise Invalid(f"{node!r} is not an approval node of pipeline {run.pipeline_id} v{run.pipeline_version}",
                          field="node")  # fmt: skip
        status = self.show(caller, run_id)["status"]
        if status in ("succeeded", "failed", "cancelled"):
            raise Conflict(f"run {run_id} already {status}", field="run_id")
        approvers = list((spec.get("params") or {}).get("approvers") or ["owner"])
        actions = {"owner": "manage", "editor": "write", "viewer": "read"}
        allowed = caller.user_id in approvers
        for who in approvers:
            if not allowed and who in actions:
                with contextlib.suppress(Forbidden):
                    self.authorize(caller, run.project_id, actions[who])
                    allowed = True
        if not allowed:
            raise Forbidden(f"node {node} is approved by {', '.join(approvers)}", field="node")
        cmd = DecideApproval(node=node, approved=approve, by=caller.user_id, comment=comment)
        execute(self.store, PIPELINE_RUNS, run_id, cmd, caller)
        return self.show(caller, run_id)

    def cancel(self, caller: Caller, run_id: str, *, reason: str = "") -> dict[str, Any]:
        run = self._run(caller, run_id, "write")
        doc = self.show(caller, run_id)
        if doc["status"] in ("succeeded", "failed", "cancelled"):
            raise Conflict(f"run {run_id} already {doc['status']}", field="run_id")
        with contextlib.suppress(NotFound, Conflict):  # it ended meanwhile: that stands
            self.runs().cancel_run(run_id, reason=reason or f"cancelled by {caller.user_id}")
        for nid, launched in run.launched.items():  # work the nodes started runs on its own: stop it too
            if nid not in run.outputs:
                self.stop_work(caller, doc["nodes"][nid]["kind"], launched)
        return self.show(caller, run_id)


def _iso(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def _span(steps: list[dict[str, Any]]) -> float | None:
    a, b = steps[0].get("started_at"), steps[-1].get("ended_at")
    if not (isinstance(a, datetime) and isinstance(b, datetime)):
        return None
    return round((b - a).total_seconds(), 3)


def start_reaction(store: EventStore, workflows: Callable[[], Any]) -> Reaction:
    """``start-pipeline-run``: a request starts its version's workflow under its run id."""

    def handle(event: RecordedEvent) -> None:
        d = event.data
        try:
            workflows().start(d["workflow"], run_input(d), run_id=d["run_id"])
        except (Conflict, ConcurrencyConflict):
            return  # started already (a redelivery)

    return Reaction("start-pipeline-run", frozenset({"pipelinerun.requested"}), handle)
