"""The train workflow's steps: ``prepare_training_data`` and ``register_artifacts``
(prepare data -> train job -> evaluate job -> register).

- prepare: lays the dataset's files out as channels (``Artifacts.materialize``) and returns the
  ``train`` / ``validation`` / ``test`` file locations, and ``init_uri`` / ``init_model``: the
  library model a fine-tuning starts from (``training.requested``'s ``parent_model_id``). The
  training service validated the dataset before the run started; a dataset that lost a split
  since fails ``TLM.InvalidDataset``.
- register: ingests the trained model dir (unpacked from SageMaker's ``model.tar.gz``), with the
  evaluation report (``evaluation.json``, from the evaluate job's model dir) and the training
  metrics (``metrics.json`` of the job's output data: latest values and the per-step history)
  added, as a new library model (kind model, ``source`` = the training run), then records the model id, metrics
  and evaluation on the training (``training.registered``).

Both are safe to run twice (a restarted run repeats the step it was in): prepare lays the files
out afresh; register finds the model it already registered.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from domain.errors import Conflict
from domain.library.datasets import SPLITS, is_data_file, split_of
from domain.trainings import TRAININGS, RecordRegistration
from domain.workflows.model import StepError
from runtime.services.commands import Caller, execute, load
from runtime.workflows.steps import outputs

INVALID_DATASET = "TLM.InvalidDataset"
MISSING_OUTPUT = outputs.MISSING_OUTPUT
CURVE_POINTS = 200


def _requester(container: Any, training_id: str) -> Caller:
    records = container.store.read(TRAININGS.stream_id(training_id))
    actor = records[0].metadata.actor if records else "workflow:train"
    return Caller(user_id=actor, correlation_id=training_id, reason=f"trained by training {training_id}")


def split_files(files: list[str]) -> dict[str, str]:
    """split name -> file path inside the dataset, for the data files named after a split."""
    out: dict[str, str] = {}
    for path in sorted(files):
        if is_data_file(path) and split_of(path) in SPLITS:
            out.setdefault(split_of(path), path)
    return out


def prepare_training_data(container: Any, doc: dict[str, Any]) -> dict[str, Any]:
    training_id, dataset_id = str(doc["training_id"]), str(doc["dataset"])
    files = container.artifacts.files_of(dataset_id)
    splits = split_files(list(files))
    missing = [s for s in SPLITS if s not in splits]
    if missing:
        raise StepError(INVALID_DATASET, f"dataset {dataset_id} has no {', '.join(missing)} split")
    root = container.artifacts.materialize(dataset_id, f"{training_id}/dataset")
    join = (lambda p: root + p) if root.startswith("s3://") else (lambda p: str(Path(root) / p))
    return {f"{s}_uri": join(splits[s]) for s in SPLITS} | {"dataset_uri": root} | _init(container, training_id, root)


def _init(container: Any, training_id: str, dataset_root: str) -> dict[str, str]:
    """The train job's ``init`` channel: the library model the training starts from (its files),
    or, from scratch, the dataset dir as a placeholder (a Step Functions job has a fixed channel
    set) with ``init_model`` "" so the job ignores it."""
    state, _ = load(container.store, TRAININGS, training_id)
    if not state.parent_model_id:
        return {"init_uri": dataset_root, "init_model": ""}
    uri = container.artifacts.materialize(state.parent_model_id, f"{training_id}/init")
    return {"init_uri": uri, "init_model": state.parent_model_id}


def curve(history: list[dict[str, Any]], name: str = "train_loss", points: int = CURVE_POINTS) -> list[list[float]]:
    """``[[step, value], ...]`` of one metric, thinned evenly to at most ``points``."""
    series = [[int(h["step"]), float(h["value"])] for h in history if h.get("name") == name]
    if len(series) <= points:
        return series
    stride = (len(series) - 1) / (points - 1)
    return [series[round(i * stride)] for i in range(points)]


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def _link_tree(src: Path, dest: Path) -> None:
    for p in sorted(src.rglob("*")):
        if p.is_file() and not p.is_symlink():
            target = dest / p.relative_to(src)
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(p, target)
            except OSError:
                shutil.copyfile(p, target)


def register_artifacts(container: Any, doc: dict[str, Any]) -> dict[str, Any]:
    training_id = str(doc["training_id"])
    state, _ = load(container.store, TRAININGS, training_id)
    if state.model_id is not None:
        return {"model_id": state.model_id}
    train, evaluation = doc.get("model") or {}, doc.get("evaluation") or {}
    outputs.model_uri(train)  # a job that reported no model fails here, before any download
    caller = _requester(container, training_id)
    fields = {
        "family": state.family,
        "description": (
            f"trained by training {training_id} on dataset {state.dataset_id} "
            f"with config {state.config_id} v{state.config_version}"
        ),
        "tags": ["trained"],
        "source": f"training-run:{state.run_id}",
        "kind": "model",
    }
    with tempfile.TemporaryDirectory(prefix=f"tlm-register-{training_id}-") as tmp_name:
        tmp = Path(tmp_name)
        # metrics.json (latest values + history) from the job's output data; SageMaker ships it in
        # output.tar.gz next to model.tar.gz
        metrics_file = outputs.output_file(container, train, "metrics.json", tmp)
        metrics_doc = (_read_json(metrics_file) if metrics_file else None) or {"metrics": {}, "history": []}
        report = None
        if evaluation.get("model_artifacts"):
            report = _read_json(outputs.model_file(container, evaluation, "evaluation.json", tmp))
        # the model dir as local files (model.tar.gz unpacked), with the metrics and evaluation added
        model = outputs.model_dir(container, train, tmp / "unpacked")
        bundle = tmp / "model"
        _link_tree(model, bundle)
        (bundle / "metrics.json").write_text(json.dumps(metrics_doc, indent=1), encoding="utf-8")
        if report is not None:
            (bundle / "evaluation.json").write_text(json.dumps(report, ensure_ascii=False, indent=1), "utf-8")
        try:
            model_id = container.artifacts.ingest_dir(caller, state.project_id, str(bundle), name=state.name, **fields)
        except Conflict:  # the name was taken while it trained: keep the model under a suffixed name
            name = f"{state.name} ({training_id[:8]})"
            model_id = container.artifacts.ingest_dir(caller, state.project_id, str(bundle), name=name, **fields)
    summary = {
        "final": dict(metrics_doc.get("metrics") or {}),
        "curves": {n: curve(metrics_doc.get("history") or [], n) for n in ("train_loss", "val_loss")},
        **{k: v for k, v in metrics_doc.items() if k not in ("metrics", "history")},
    }
    evaluation_summary = report or {}
    execute(
        container.store,
        TRAININGS,
        training_id,
        RecordRegistration(model_id=model_id, metrics=summary, evaluation=evaluation_summary),
        caller,
        retries=3,
    )
    return {"model_id": model_id}


def steps(container: Any) -> dict[str, Any]:
    return {
        "prepare_training_data": lambda doc: prepare_training_data(container, doc),
        "register_artifacts": lambda doc: register_artifacts(container, doc),
    }
