"""Compile a pipeline version to the workflow model (``domain.workflows.model``), which renders to
ASL for Step Functions and runs in the local runner.

Shape:

- Nodes are grouped into *stages* by depth (longest path from a source). A stage with one node is
  that node's states inline; with several, a ``Parallel`` with one branch per node (independent
  nodes run at once). Stages run in order, then ``Done``; any failure is caught into
  ``RecordFailure`` -> ``Failed`` (the shipped workflows' failure tail).
- Data passes between nodes as artifacts of the run, not through the JSON document: every node
  step gets ``{run_id, project_id, pipeline_id, pipeline_version, node, kind, params_json, inputs}``
  (``inputs``: port -> ``"<node>.<port>"``; the step resolves them from the run's node outputs, which
  is also what caching by input hash keys on). ``params_json`` is the node's parameters as one JSON
  string, so a user value that starts with ``$`` can never become a path reference.
- ``choose_model`` / ``dataset`` / ``config`` / ``arch_edit``: one step ``pipeline_node``.
- ``search`` / ``train`` / ``evaluate`` / ``compile`` / ``package`` / ``create_version`` / ``deploy``: ``<id>``
  (step ``pipeline_job``: reuse the outputs cached under the node's input hash, or launch the node's work
  through the platform's own services - a study, a training, a compile, a model version, a deployment -
  or check on it) -> ``<id> ready`` (Choice on ``done``) -> ``<id> wait`` -> ``<id>``.
- ``search`` runs a study (``StudiesService.start`` as the run's requester): the study's own ``study``
  workflow is the node's child run (its run id, the study id, is what the node records as launched;
  cancel of the pipeline run cancels the study). It is not a ``ChildWorkflow`` state: a study's run
  is started by its own request's reaction under the study's id (the one run a study has, resumable
  on its own), so a second start from the pipeline would race it; the node polls the study instead,
  the same on both engines.
- ``condition``: ``<id> metrics`` (step ``pipeline_metrics``: the named metrics of its input) then one
  ``Choice`` per comparison; a condition that does not hold ends the run in ``<id> not met``
  (Succeed: later stages are skipped). Conditions always get a stage of their own (a Succeed inside
  a Parallel branch would only end that branch).
- ``approval``: a poll loop (step ``pipeline_approval`` -> Choice approved / rejected -> Wait -> step):
  the step reads the approval events of the run; rejected is ``TLM.ApprovalRejected``.
- Kinds whose module is not merged (``kinds.NodeKind.available`` False; none today) compile to step
  ``pipeline_not_available``, which fails with ``TLM.NotAvailable`` naming the node. ``COMPILERS`` maps a
  kind to its compiler.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from domain.pipelines.kinds import KINDS
from domain.pipelines.model import Definition, depths, validate
from domain.workflows import model as m

NOT_AVAILABLE = "TLM.NotAvailable"
APPROVAL_REJECTED = "TLM.ApprovalRejected"
WORKFLOW_FAILED = "TLM.WorkflowFailed"
FAILURE = "RecordFailure"
STEP_FUNCTIONS = ("pipeline_node", "pipeline_prepare", "pipeline_record", "pipeline_metrics",
                  "pipeline_approval", "pipeline_not_available", "pipeline_job")  # fmt: skip
_TRANSIENT = ("Lambda.ServiceException", "Lambda.AWSLambdaException", "Lambda.SdkClientException",
              "Lambda.TooManyRequestsException")  # fmt: skip
# States a node compiler returns, and the name of its first state.
Compiled = tuple[list[Any], str]
Compiler = Callable[[str, dict[str, Any], str, bool], Compiled]


def workflow_name(pipeline_id: str, version: int) -> str:
    """One workflow (a state machine on AWS) per pipeline version: runs of different versions
    never share a definition."""
    return f"pipeline-{pipeline_id.lower()[:40]}-v{version}"


def _base(nid: str, node: dict[str, Any]) -> dict[str, Any]:
    return {
        "run_id": "$$.Execution.Name",
        "project_id": "$.project_id",
        "pipeline_id": "$.pipeline_id",
        "pipeline_version": "$.pipeline_version",
        "node": nid,
        "kind": node["kind"],
        "params_json": json.dumps(node.get("params") or {}, sort_keys=True, ensure_ascii=False),
        "inputs": dict(node.get("inputs") or {}),
    }


def _step(name: str, function: str, params: dict[str, Any], result_path: str | None, next: str,
          top: bool, comment: str = "") -> m.StepTask:  # fmt: skip
    return m.StepTask(
        name=name, function=function, parameters=params, result_path=result_path, next=next, comment=comment,
        retry=(m.Retry(errors=_TRANSIENT, interval_s=2, max_attempts=3),),
        catch=(m.Catch(next=FAILURE),) if top else (), timeout_s=300,
    )  # fmt: skip


def _resolve(nid: str, node: dict[str, Any], next: str, top: bool) -> Compiled:
    return [_step(nid, "pipeline_node", _base(nid, node), f"$.nodes.{nid}", next, top)], nid


JOB_KINDS = ("search", "train", "evaluate", "compile", "package", "create_version", "deploy")
JOB_POLL_SECONDS = 2  # a job node's status check interval (one cheap step; the node's own run polls its jobs)


def _job(nid: str, node: dict[str, Any], next: str, top: bool) -> Compiled:
    """``<id>`` (step ``pipeline_job``: reuse cached outputs, or launch the node's work - a training,
    a compile, a version, a deployment - or check on it) -> ``<id> ready`` (Choice on ``done``) ->
    ``<id> wait`` -> ``<id>``. The work runs as the platform's own process (the ``train`` /
    ``compile`` / ``release`` workflows with their jobs), so a pipeline node and a direct request
    behave the same."""
    res = f"$.nodes.{nid}"
    return [
        _step(nid, "pipeline_job", _base(nid, node), res, f"{nid} ready", top),
        m.Choice(
            name=f"{nid} ready",
            choices=(m.ChoiceRule(variable=f"{res}.done", op="boolean_equals", value=True, next=next),),
            default=f"{nid} wait",
        ),
        m.Wait(name=f"{nid} wait", seconds=JOB_POLL_SECONDS, next=nid),
    ], nid


def _condition(nid: str, node: dict[str, Any], next: str, top: bool) -> Compiled:
    from domain.pipelines.condition import OPS, parse

    terms = parse(str(node["params"]["expression"]))
    states: list[Any] = [
        _step(
            f"{nid} metrics",
            "pipeline_metrics",
            {**_base(nid, node), "metrics": [t.metric for t in terms]},
            f"$.nodes.{nid}",
            f"{nid} check 1",
            top,
            comment=str(node["params"]["expression"]),
        )  # fmt: skip
    ]
    for i, t in enumerate(terms, start=1):
        target = next if i == len(terms) else f"{nid} check {i + 1}"
        states.append(m.Choice(
            name=f"{nid} check {i}", comment=str(t),
            choices=(m.ChoiceRule(variable=f"$.nodes.{nid}.{t.metric}", op=OPS[t.op], value=t.value, next=target),),
            default=f"{nid} not met",
        ))  # fmt: skip
    states.append(m.Succeed(name=f"{nid} not met", comment=f"condition {node['params']['expression']} does not hold"))
    return states, f"{nid} metrics"


def _approval(nid: str, node: dict[str, Any], next: str, top: bool) -> Compiled:
    params = node.get("params") or {}
    res = f"$.nodes.{nid}"
    return [
        _step(nid, "pipeline_approval", _base(nid, node), res, f"{nid} decided", top),
        m.Choice(
            name=f"{nid} decided",
            choices=(
                m.ChoiceRule(variable=f"{res}.approved", op="boolean_equals", value=True, next=next),
                m.ChoiceRule(variable=f"{res}.rejected", op="boolean_equals", value=True, next=f"{nid} rejected"),
            ),
            default=f"{nid} wait",
        ),
        m.Wait(name=f"{nid} wait", seconds=int(params.get("poll_seconds", 60)), next=nid),
        m.Fail(name=f"{nid} rejected", error=APPROVAL_REJECTED, cause=f"node {nid}: approval rejected"),
    ], nid


def _not_available(nid: str, node: dict[str, Any], next: str, top: bool) -> Compiled:
    kind = node["kind"]
    note = f"{NOT_AVAILABLE}: node {nid} ({kind}) needs a module that is not merged yet"
    params = {**_base(nid, node), "error": NOT_AVAILABLE, "cause": note}
    return [_step(nid, "pipeline_not_available", params, f"$.nodes.{nid}", next, top, comment=note)], nid


COMPILERS: dict[str, Compiler] = {
    "choose_model": _resolve, "dataset": _resolve, "config": _resolve, "arch_edit": _resolve,
    "search": _job, "train": _job, "evaluate": _job, "compile": _job, "package": _job, "create_version": _job,
    "deploy": _job,
    "condition": _condition, "approval": _approval,
}  # fmt: skip


def compiler_for(kind: str) -> Compiler:
    if KINDS[kind].available and kind in COMPILERS:
        return COMPILERS[kind]
    return _not_available


def stages(defn: Definition) -> list[list[str]]:
    """Node ids per stage, in run order (conditions alone in a stage after their depth's others)."""
    d = depths(defn)
    out: list[list[str]] = []
    for level in range(max(d.values()) + 1):
        nodes = [n for n in defn["nodes"] if d[n] == level]
        plain = [n for n in nodes if defn["nodes"][n]["kind"] != "condition"]
        if plain:
            out.append(plain)
        out += [[n] for n in nodes if defn["nodes"][n]["kind"] == "condition"]
    return out


def _branch(nid: str, node: dict[str, Any]) -> m.Workflow:
    done = f"{nid} done"  # state names are unique across a whole state machine, branches included
    states, entry = compiler_for(node["kind"])(nid, node, done, False)
    return m.Workflow(name=f"n-{nid.replace('_', '-')}"[:63], start_at=entry, states=(*states, m.Succeed(name=done)))


def compile_pipeline(defn: Definition, *, pipeline_id: str, version: int) -> m.Workflow:
    """The workflow of one pipeline version (validated first). Input: ``{project_id, pipeline_id,
    pipeline_version}``; node outputs live at ``$.nodes.<id>`` inside each node's branch."""
    validate(defn)
    plan = stages(defn)
    entries: list[str] = []
    built: list[list[Any]] = []
    names = [f"Stage {i + 1}" if len(s) > 1 else "" for i, s in enumerate(plan)]
    # build back to front so each stage knows the entry of the next
    nxt = "Done"
    for i in range(len(plan) - 1, -1, -1):
        group = plan[i]
        if len(group) == 1:
            nid = group[0]
            states, entry = compiler_for(defn["nodes"][nid]["kind"])(nid, defn["nodes"][nid], nxt, True)
        else:
            entry = names[i]
            states = [m.ParallelState(
                name=entry, comment=f"independent nodes: {', '.join(group)}",
                branches=tuple(_branch(n, defn["nodes"][n]) for n in group),
                result_path=None, next=nxt, catch=(m.Catch(next=FAILURE),),
            )]  # fmt: skip
        built.insert(0, states)
        entries.insert(0, entry)
        nxt = entry
    tail = [
        m.Succeed(name="Done"),
        m.RecordTask(
            name=FAILURE,
            event_type="workflowrun.failure_recorded",
            data={"workflow": workflow_name(pipeline_id, version), "error": "$.error.Error", "cause": "$.error.Cause"},
            next="Failed",
        ),  # fmt: skip
        m.Fail(
            name="Failed",
            error=WORKFLOW_FAILED,
            cause=f"pipeline {pipeline_id} v{version} failed; see the recorded failure",
        ),  # fmt: skip
    ]
    return m.Workflow(
        name=workflow_name(pipeline_id, version),
        comment=f"pipeline {pipeline_id} version {version}: {defn['name']}",
        start_at=entries[0],
        states=tuple(s for group in built for s in group) + tuple(tail),
    )
