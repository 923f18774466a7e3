"""Step functions of compiled pipelines (``domain.pipelines.compile.STEP_FUNCTIONS``).

- ``pipeline_node``: resolves a choose_model / dataset / config node (the library model or dataset
  exists in the run's project, the template exists, the config exists at the version asked) and
  records its outputs on the run (``pipelinerun.node_recorded``); ``TLM.NotFound`` otherwise. An
  arch_edit node records its input config with the edit appended to ``arch_edits`` (the train node
  derives a config from it, ``ConfigService.derive``); a bad edit is ``TLM.InvalidEdit``.
- ``pipeline_metrics``: the metrics a condition names, from the outputs of the node it reads.
- ``pipeline_approval``: the decision on the node (``pipelinerun.approval_decided``, made through
  ``PipelineRunService.decide``); none yet: the node waits (its poll loop).
- ``pipeline_prepare`` / ``pipeline_record`` (kept so older compiled versions still resolve; job
  nodes now use ``pipeline_jobs.pipeline_job``) and ``pipeline_not_available``: fail with
  ``TLM.NotAvailable`` naming the node.

Each step is safe to run twice: recording the same outputs again decides no event.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from domain.configs.aggregate import CONFIG
from domain.configs.templates import TEMPLATES
from domain.library.models import MODELS
from domain.pipelines.compile import NOT_AVAILABLE
from domain.pipelines.runs import PIPELINE_RUNS, RecordNode
from domain.workflows.model import StepError
from runtime.services.commands import Caller, execute, load

NOT_FOUND = "TLM.NotFound"
MISSING_METRIC = "TLM.MissingMetric"
APPROVAL_TIMED_OUT = "TLM.ApprovalTimedOut"
INVALID_EDIT = "TLM.InvalidEdit"


def _entry(container: Any, project_id: str, model_id: str, kind: str, version: int | None) -> dict[str, Any]:
    state, at = load(container.store, MODELS, model_id)
    if not state.exists or getattr(state, "deleted", False) or state.project_id != project_id:
        raise StepError(NOT_FOUND, f"no {kind} {model_id} in project {project_id}")
    if (getattr(state, "kind", "model") or "model") != kind:
        raise StepError(NOT_FOUND, f"{model_id} is not a {kind}")
    if version is not None and version > at:
        raise StepError(NOT_FOUND, f"{kind} {model_id} has no version {version}")
    return {f"{kind}_id": model_id, "version": version or at}


def resolve(container: Any, doc: dict[str, Any]) -> dict[str, Any]:
    kind, params, project = doc["kind"], json.loads(doc["params_json"]), str(doc["project_id"])
    if kind == "choose_model":
        if params.get("template"):
            if params["template"] not in TEMPLATES:
                raise StepError(NOT_FOUND, f"no template {params['template']}")
            return {"model": {"template": params["template"]}}
        return {"model": _entry(container, project, params["model_id"], "model", params.get("version"))}
    if kind == "dataset":
        return {"dataset": _entry(container, project, params["dataset_id"], "dataset", params.get("version"))}
    if kind == "config":
        if params.get("template"):
            if params["template"] not in TEMPLATES:
                raise StepError(NOT_FOUND, f"no template {params['template']}")
            return {"config": {"template": params["template"], "overrides": params.get("overrides") or {}}}
        records = container.store.read(CONFIG.stream_id(params["config_id"]), until_version=params.get("version"))
        state = CONFIG.fold(r.event() for r in records)
        if not state.exists or state.deleted or state.project_id != project:
            raise StepError(NOT_FOUND, f"no config {params['config_id']} in project {project}")
        return {"config": {"config_id": params["config_id"], "version": state.version}}
    if kind == "arch_edit":  # the edit travels with the config; the train node derives the config from it
        from domain.configs.arch import ArchEdit

        try:
            edit = ArchEdit.model_validate(params["edit"]).model_dump(exclude_none=True)
        except ValueError as e:
            raise StepError(INVALID_EDIT, f"node {doc['node']}: {e}") from None
        run, _ = load(container.store, PIPELINE_RUNS, str(doc["run_id"]))
        source, _, port = str(doc["inputs"]["config"]).partition(".")
        config = (run.outputs.get(source) or {}).get(port)
        if not isinstance(config, dict):
            raise StepError(NOT_FOUND, f"node {doc['node']}: input config ({doc['inputs']['config']}) was not recorded")
        return {"config": {**config, "arch_edits": [*(config.get("arch_edits") or []), edit]}}
    raise StepError(NOT_AVAILABLE, f"node {doc['node']} ({kind}) does not run yet")


def _record(container: Any, doc: dict[str, Any], outputs: dict[str, Any]) -> None:
    run_id = str(doc["run_id"])
    cmd = RecordNode(node=str(doc["node"]), kind=str(doc["kind"]), outputs=outputs)
    execute(container.store, PIPELINE_RUNS, run_id, cmd, Caller(user_id="workflow:pipeline", correlation_id=run_id),
            retries=3)  # fmt: skip


def steps(container: Any) -> dict[str, Any]:
    def pipeline_node(doc: dict[str, Any]) -> dict[str, Any]:
        outputs = resolve(container, doc)
        _record(container, doc, outputs)
        return outputs

    def pipeline_metrics(doc: dict[str, Any]) -> dict[str, Any]:
        run, _ = load(container.store, PIPELINE_RUNS, str(doc["run_id"]))
        source, _, port = str(doc["inputs"]["metrics"]).partition(".")
        metrics = (run.outputs.get(source) or {}).get(port) or {}
        missing = [m for m in doc["metrics"] if not isinstance(metrics.get(m), int | float)]
        if missing:
            raise StepError(MISSING_METRIC, f"node {doc['node']}: {source} reported no {', '.join(missing)}")
        return {m: metrics[m] for m in doc["metrics"]}

    def not_wired(doc: dict[str, Any]) -> dict[str, Any]:
        raise StepError(NOT_AVAILABLE, f"node {doc['node']} ({doc['kind']}) does not run yet")

    def pipeline_approval(doc: dict[str, Any]) -> dict[str, Any]:
        """``{approved, rejected}`` from the run's decision on the node (none yet: both false, the node
        waits); approved records the decision as the node's outputs; past ``timeout_hours`` since the
        run began it fails ``TLM.ApprovalTimedOut``."""
        run_id, node = str(doc["run_id"]), str(doc["node"])
        run, _ = load(container.store, PIPELINE_RUNS, run_id)
        decision = run.approvals.get(node)
        if decision is None:
            records = container.store.read(PIPELINE_RUNS.stream_id(run_id))
            hours = float(json.loads(doc["params_json"]).get("timeout_hours", 72))
            started = records[0].metadata.occurred_at if records else None
            if started is not None and (datetime.now(UTC) - started).total_seconds() > hours * 3600:
                raise StepError(APPROVAL_TIMED_OUT, f"node {node}: no decision within {hours:g} h")
            return {"approved": False, "rejected": False}
        if decision["approved"]:
            _record(container, doc, {"approval": dict(decision)})
        return {"approved": bool(decision["approved"]), "rejected": not decision["approved"]}

    def pipeline_not_available(doc: dict[str, Any]) -> dict[str, Any]:
        raise StepError(NOT_AVAILABLE, str(doc.get("cause") or f"node {doc['node']} is not available"))

    return {
        "pipeline_node": pipeline_node,
        "pipeline_metrics": pipeline_metrics,
        "pipeline_prepare": not_wired,
        "pipeline_record": not_wired,
        "pipeline_approval": pipeline_approval,
        "pipeline_not_available": pipeline_not_available,
    }
