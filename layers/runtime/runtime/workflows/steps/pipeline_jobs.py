"""The ``pipeline_job`` step: search (``pipeline_search``) / train / evaluate / compile / package /
create_version / deploy nodes.

One step, called until it answers ``done`` (the compiled node polls it every
``domain.pipelines.compile.JOB_POLL_SECONDS``):

1. recorded already (a re-run step): the recorded outputs;
2. a retry run (``parent_run_id``) whose parent recorded this node under the same input hash
   (``domain.pipelines.runs.input_hash``: kind + params + the artifacts on its input ports), and the
   node is not forced (the node retried from and its descendants): the parent's outputs again,
   ``reused_from`` naming the run that made them, no work launched;
3. otherwise the node's work is launched once (``pipelinerun.node_launched``) through the platform's
   own services, as the run's requester (authorization as for a direct request), then checked:

- ``train``: ``TrainingService.start`` (a config from the ``config`` input: a saved config is used as
  it is; a template, or the node's ``max_epochs`` / ``seed``, become a new config; the edits of
  arch_edit nodes upstream derive a child config each, ``ConfigService.derive``) -> the ``train``
  workflow (train job, evaluate job on the test split, register). Outputs ``model`` (the registered
  model, ``training_id``) and ``metrics`` (final training metrics plus the evaluation's).
- ``evaluate``: the evaluation the training's own evaluate job made (``split: test``); a model not
  trained here, or another split, fails ``TLM.NotAvailable`` (no separate evaluate job yet).
- ``compile``: ``CompileService.start`` -> the ``compile`` workflow (compile job, verify, package
  job, record). Outputs ``model`` (model id, ``compile_id``) and ``metrics`` (verification, latency).
- ``package``: the package the compile workflow's package job made (no second job).
- ``create_version``: ``VersionService.create(compile_id=...)`` (optional ``alias`` moved to it).
- ``deploy``: the project's deployment named ``endpoint``: created with the version, or updated to it
  with a canary (``canary_percent`` for ``bake_minutes``); the node does not wait for the release to
  finish (the deployment's own process does that; its id is the output).

Every launched training or compile keeps its job names in the node's ``jobs`` output: a run's
``jobs_launched`` is their count.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from domain.errors import Conflict, DomainError
from domain.pipelines.compile import NOT_AVAILABLE
from domain.pipelines.runs import PIPELINE_RUNS, LaunchNode, PipelineRun, RecordNode, input_hash
from domain.workflows.model import StepError
from runtime.services.commands import Caller, execute, load
from runtime.workflows.steps import pipeline_search
from runtime.workflows.steps.pipeline_configs import saved_config

NODE_FAILED = "TLM.NodeFailed"
MISSING_INPUT = "TLM.MissingInput"
ENDED_BAD = ("failed", "cancelled")


def requester(container: Any, run_id: str) -> Caller:
    records = container.store.read(PIPELINE_RUNS.stream_id(run_id))
    actor = records[0].metadata.actor if records else "workflow:pipeline"
    return Caller(user_id=actor, correlation_id=run_id, reason=f"pipeline run {run_id}")


def resolve_inputs(run: PipelineRun, node: str, refs: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for port, ref in sorted(refs.items()):
        source, _, sport = ref.partition(".")
        value = (run.outputs.get(source) or {}).get(sport)
        if value is None:
            raise StepError(MISSING_INPUT, f"node {node}: input {port} ({ref}) was not recorded")
        out[port] = value
    return out


def _fail(node: str, what: str) -> StepError:
    return StepError(NODE_FAILED, f"node {node}: {what}")


# ------------------------------------------------------------------ launch / check per kind


def _train_launch(c: Any, caller: Caller, run: PipelineRun, node: str, params: dict[str, Any],
                  inputs: dict[str, Any]) -> dict[str, Any]:  # fmt: skip
    cfg = inputs["config"]
    extra = {k: v for k, v in (("training.epochs", params.get("max_epochs")), ("training.seed", params.get("seed")))
             if v is not None and (k != "training.seed" or params.get("seed"))}  # fmt: skip
    label = f"{run.pipeline_id[:8]}-{node}-{run.run_id[:8]}"
    config_id = saved_config(c, caller, run.project_id, cfg, extra, label=label,
                             made_by=f"made by pipeline run {run.run_id} for node {node}")  # fmt: skip
    model = inputs.get("model") or {}
    started = c.training.start(caller, run.project_id, config_id=config_id, dataset_id=inputs["dataset"]["dataset_id"],
                               name=f"pipeline {label}", model_id=model.get("model_id"))  # fmt: skip
    return {"training_id": started["training_id"]}


def _train_check(c: Any, caller: Caller, node: str, launched: dict[str, Any], params: dict[str, Any],
                 inputs: dict[str, Any]) -> dict[str, Any] | None:  # fmt: skip
    t = c.training.get(caller, launched["training_id"])
    if t["state"] in ENDED_BAD or t["outcome"] in ENDED_BAD:
        raise _fail(node, f"training {t['training_id']} {t['state']}: {t.get('error')} {t.get('cause') or ''}".strip())
    if not t["model_id"] or t["state"] != "succeeded":
        return None
    final = dict((t.get("metrics") or {}).get("final") or {})
    evaluation = {k: v for k, v in (t.get("evaluation") or {}).items() if isinstance(v, int | float)}
    metrics = {**final, **evaluation}
    if "accuracy" not in metrics and "val_accuracy" in final:
        metrics["accuracy"] = final["val_accuracy"]
    return {
        "model": {"model_id": t["model_id"], "training_id": t["training_id"]},
        "metrics": metrics,
        "jobs": [j["job"] for j in t["jobs"]],
    }


def _evaluate_check(c: Any, caller: Caller, node: str, launched: dict[str, Any], params: dict[str, Any],
                    inputs: dict[str, Any]) -> dict[str, Any] | None:  # fmt: skip
    training_id = (inputs.get("model") or {}).get("training_id")
    if not training_id or params.get("split", "test") != "test":
        why = "evaluate reads the test-split evaluation of a model a train node trained; another model or split needs"
        raise StepError(NOT_AVAILABLE, f"node {node}: {why} the evaluate job on its own (not wired yet)")
    t = c.training.get(caller, training_id)
    report = {k: v for k, v in (t.get("evaluation") or {}).items() if isinstance(v, int | float)}
    if not report:
        raise _fail(node, f"training {training_id} recorded no evaluation")
    return {"metrics": report, "jobs": []}


def _compile_launch(c: Any, caller: Caller, run: PipelineRun, node: str, params: dict[str, Any],
                    inputs: dict[str, Any]) -> dict[str, Any]:  # fmt: skip
    model_id = inputs["model"].get("model_id")
    if not model_id:
        raise StepError(MISSING_INPUT, f"node {node}: its model input is not a library model")
    started = c.compiles.start(caller, model_id, params.get("target", "onnx"), params.get("recipe") or {})
    return {"compile_id": started["compile_id"]}


def _compile_check(c: Any, caller: Caller, node: str, launched: dict[str, Any], params: dict[str, Any],
                   inputs: dict[str, Any]) -> dict[str, Any] | None:  # fmt: skip
    doc = c.compiles.show(caller, launched["compile_id"])
    if doc["status"] in ENDED_BAD:
        raise _fail(node, f"compile {doc['compile_id']} {doc['status']}: {doc.get('error')} {doc.get('reason') or ''}")
    if doc["status"] != "succeeded":
        return None
    report = doc.get("report") or {}
    verification = report.get("verification") or doc.get("verification") or {}
    metrics = {k: v for k, v in verification.items() if isinstance(v, int | float) and not isinstance(v, bool)}
    for k, v in (report.get("latency") or {}).items():
        if isinstance(v, int | float):
            metrics[f"latency_{k}" if not k.startswith("latency") else k] = v
    model = {"model_id": doc["model_id"], "compile_id": doc["compile_id"], "target": doc["target"]}
    return {"model": model, "metrics": metrics, "jobs": sorted(set((doc.get("jobs") or {}).values()))}


def _package_check(c: Any, caller: Caller, node: str, launched: dict[str, Any], params: dict[str, Any],
                   inputs: dict[str, Any]) -> dict[str, Any] | None:  # fmt: skip
    compile_id = inputs["model"].get("compile_id")
    if not compile_id:
        raise StepError(NOT_AVAILABLE, f"node {node}: package reads the package of a compile node's model")
    doc = c.compiles.show(caller, compile_id)
    tar = (doc.get("artifacts") or {}).get("model.tar.gz")
    if doc["status"] != "succeeded" or not tar:
        raise _fail(node, f"compile {compile_id} has no package")
    return {"model": {**inputs["model"], "package": tar}, "jobs": []}


def _version_launch(c: Any, caller: Caller, run: PipelineRun, node: str, params: dict[str, Any],
                    inputs: dict[str, Any]) -> dict[str, Any]:  # fmt: skip
    compile_id = inputs["model"].get("compile_id")
    notes = params.get("notes") or f"from pipeline {run.pipeline_id} v{run.pipeline_version}, run {run.run_id}"
    if compile_id:
        doc = c.versions.create(caller, compile_id=compile_id, description=notes)
    else:
        doc = c.versions.create(caller, model_id=inputs["model"]["model_id"], description=notes)
    if params.get("alias"):
        c.versions.move_alias(caller, doc["model_id"], params["alias"], doc["version_id"])
    return {"version_id": doc["version_id"], "model_id": doc["model_id"], "number": doc["number"]}


def _version_check(c: Any, caller: Caller, node: str, launched: dict[str, Any], params: dict[str, Any],
                   inputs: dict[str, Any]) -> dict[str, Any] | None:  # fmt: skip
    return {"version": dict(launched), "jobs": []}


def _deploy_launch(c: Any, caller: Caller, run: PipelineRun, node: str, params: dict[str, Any],
                   inputs: dict[str, Any]) -> dict[str, Any]:  # fmt: skip
    version_id, endpoint = inputs["version"]["version_id"], params["endpoint"]
    existing = [d for d in c.releases.list_deployments(caller, run.project_id)
                if d.get("name") == endpoint and d.get("status") not in ("stopped", "failed")]  # fmt: skip
    if not existing:
        doc = c.releases.start(caller, version_id, name=endpoint)
        return {"deployment_id": doc["deployment_id"], "version_id": version_id, "strategy": "start"}
    percent = int(params.get("canary_percent", 10))
    strategy: dict[str, Any] = (
        {"kind": "all_at_once"} if percent >= 100
        else {"kind": "canary", "percent": percent, "bake_s": float(params.get("bake_minutes", 10)) * 60}
    )  # fmt: skip
    doc = c.releases.update(caller, existing[0]["deployment_id"], version_id, strategy=strategy)
    return {"deployment_id": doc["deployment_id"], "version_id": version_id, "strategy": strategy["kind"]}


def _deploy_check(c: Any, caller: Caller, node: str, launched: dict[str, Any], params: dict[str, Any],
                  inputs: dict[str, Any]) -> dict[str, Any] | None:  # fmt: skip
    return {"deployment": dict(launched), "jobs": []}


def _none(*_: Any) -> dict[str, Any]:
    return {}


Launch = Callable[..., dict[str, Any]]
Check = Callable[..., "dict[str, Any] | None"]
KINDS: dict[str, tuple[Launch, Check]] = {
    "search": (pipeline_search.launch, pipeline_search.check),
    "train": (_train_launch, _train_check),
    "evaluate": (_none, _evaluate_check),
    "compile": (_compile_launch, _compile_check),
    "package": (_none, _package_check),
    "create_version": (_version_launch, _version_check),
    "deploy": (_deploy_launch, _deploy_check),
}


def _catch_up(c: Any) -> None:
    catch_up = getattr(c, "catch_up", None)
    if callable(catch_up):
        catch_up()


def _record(c: Any, run_id: str, node: str, kind: str, outputs: dict[str, Any]) -> None:
    execute(c.store, PIPELINE_RUNS, run_id, RecordNode(node=node, kind=kind, outputs=outputs),
            Caller(user_id="workflow:pipeline", correlation_id=run_id), retries=3)  # fmt: skip


def pipeline_job(c: Any, doc: dict[str, Any]) -> dict[str, Any]:
    run_id, node, kind = str(doc["run_id"]), str(doc["node"]), str(doc["kind"])
    run, _ = load(c.store, PIPELINE_RUNS, run_id)
    if node in run.outputs:
        return {"done": True}
    params = json.loads(doc["params_json"])
    inputs = resolve_inputs(run, node, dict(doc.get("inputs") or {}))
    digest = input_hash(kind, params, inputs)
    if run.parent_run_id and node not in run.force:
        parent, _ = load(c.store, PIPELINE_RUNS, run.parent_run_id)
        before = parent.outputs.get(node) or {}
        if before.get("input_hash") == digest:
            reused = {**before, "reused_from": before.get("reused_from") or parent.run_id, "jobs": []}
            _record(c, run_id, node, kind, reused)
            return {"done": True, "reused": True}
    launch, check = KINDS[kind]
    caller = requester(c, run_id)
    launched = run.launched.get(node)
    try:
        if launched is None:
            launched = launch(c, caller, run, node, params, inputs)
            try:
                execute(c.store, PIPELINE_RUNS, run_id, LaunchNode(node=node, kind=kind, launched=launched),
                        Caller(user_id="workflow:pipeline", correlation_id=run_id), retries=3)  # fmt: skip
            except Conflict:
                launched = load(c.store, PIPELINE_RUNS, run_id)[0].launched[node]
            _catch_up(c)  # locally: the start reaction of the training / compile runs now
        outcome = check(c, caller, node, launched, params, inputs)
    except StepError:
        raise
    except DomainError as e:  # refused by the service (a name, a permission, a bad config): named
        where = f" [field: {e.field}]" if e.field else ""
        raise StepError(NODE_FAILED, f"node {node}: {e.message}{where}") from None
    if outcome is None:
        return {"done": False}
    _record(c, run_id, node, kind, {**outcome, "input_hash": digest, "launched": launched})
    return {"done": True}


def steps(container: Any) -> dict[str, Any]:
    return {"pipeline_job": lambda doc: pipeline_job(container, doc)}


def stop_launched(c: Any, caller: Caller, kind: str, launched: dict[str, Any]) -> None:
    """Cancel of a pipeline run: stop the training or compile a node started (they run as their own
    processes). One that ended meanwhile stays as it ended."""
    try:
        if launched.get("training_id"):
            c.training.cancel(caller, launched["training_id"], reason="pipeline run cancelled")
        elif launched.get("compile_id"):
            c.compiles.cancel(caller, launched["compile_id"], reason="pipeline run cancelled")
        elif launched.get("study_id"):
            pipeline_search.stop(c, caller, launched)
    except Conflict:
        pass
