"""The ``search`` node of a pipeline: a study, run through the platform's own search service.

- launch: ``StudiesService.start`` as the run's requester (editor on the project, every check of a
  direct request: the config and dataset fit, the space against the config's schema, each refusal a
  ``TLM.NodeFailed`` naming the node and the field). The config comes from the ``config`` input as a
  train node's does (``pipeline_configs.saved_config``: a template or arch edits upstream become a
  saved config first); a ``model`` input fine-tunes from it. The study's ``study`` workflow run (its
  id is the study id) is the node's child run; the launch records ``{study_id, run_id}``.
- check: ``None`` while the study runs; when it finished with a best trial, the outputs: ``config``
  (the study's best config: a new version of the config carrying the best params), ``model`` (the
  best trial's registered model) and ``metrics`` (the best trial's metrics, ``objective`` its first
  objective value), plus the trial jobs (``jobs``, a run's ``jobs_launched``). A failed or cancelled
  study, or one without a feasible trial, fails the node.
"""

from __future__ import annotations

from typing import Any

from domain.pipelines.kinds import space_paths
from domain.pipelines.runs import PipelineRun
from domain.workflows.model import StepError
from runtime.services.commands import Caller
from runtime.workflows.steps.pipeline_configs import saved_config

NODE_FAILED = "TLM.NodeFailed"


def launch(c: Any, caller: Caller, run: PipelineRun, node: str, params: dict[str, Any],
           inputs: dict[str, Any]) -> dict[str, Any]:  # fmt: skip
    label = f"{run.pipeline_id[:8]}-{node}-{run.run_id[:8]}"
    config_id = saved_config(c, caller, run.project_id, inputs["config"], {}, label=label,
                             made_by=f"made by pipeline run {run.run_id} for search node {node}")  # fmt: skip
    model = inputs.get("model") or {}
    doc = c.studies.start(
        caller, run.project_id, name=f"pipeline {label}", config_id=config_id,
        dataset_id=inputs["dataset"]["dataset_id"], space=space_paths(params["space"]),
        strategy=params.get("sampler", "tpe"),
        objectives=[{"expression": params.get("objective", "val_accuracy"),
                     "direction": params.get("direction", "maximize")}],
        max_trials=int(params.get("budget", 8)), parallelism=int(params.get("max_concurrency", 2)),
        seed=int(params.get("seed", 0)), model_id=model.get("model_id"), steps_per_trial=params.get("steps_per_trial"),
    )  # fmt: skip
    return {"study_id": doc["study_id"], "run_id": doc["run_id"], "config_id": config_id}


def check(c: Any, caller: Caller, node: str, launched: dict[str, Any], params: dict[str, Any],
          inputs: dict[str, Any]) -> dict[str, Any] | None:  # fmt: skip
    study_id = launched["study_id"]
    doc = c.studies.get(caller, study_id)
    reason = doc["finished_reason"]
    if reason is None:
        return None
    if reason in ("failed", "cancelled"):
        raise StepError(NODE_FAILED, f"node {node}: study {study_id} {reason}: {doc.get('error') or ''}".strip())
    best = doc["best"]
    if best is None or not doc["best_config_id"]:
        raise StepError(NODE_FAILED, f"node {node}: study {study_id} ended ({reason}) without a feasible trial")
    metrics = {k: v for k, v in (best.get("metrics") or {}).items()
               if isinstance(v, int | float) and not isinstance(v, bool)}  # fmt: skip
    metrics["objective"] = float(best["values"][0])
    jobs = sorted({j for t in c.studies.trials(caller, study_id) for j in t["jobs"]})
    return {
        "config": {"config_id": doc["best_config_id"], "version": doc["best_config_version"], "study_id": study_id},
        "model": {"model_id": doc["best_model_id"], "study_id": study_id, "trial": best["number"]},
        "metrics": metrics,
        "jobs": jobs,
    }


def stop(c: Any, caller: Caller, launched: dict[str, Any]) -> None:
    c.studies.cancel(caller, launched["study_id"], reason="pipeline run cancelled")
