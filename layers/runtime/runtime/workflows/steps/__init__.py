"""Step functions of the shipped workflows: ``registry(container)`` maps each name in
``runtime.workflows.definitions.STEP_FUNCTIONS`` to a callable ``step(input) -> output``.

The same callables serve the local workflow runner (``Container.workflows``) and the Lambda
handlers ``functions/steps/<name>.py`` (``handler(event, context) -> registry(...)[name](event)``).
A step raises ``domain.workflows.model.StepError(error, cause)`` to name its failure (what the
workflow's Retry/Catch match on); any other exception is named by its class.

Each module here exposes ``steps(container) -> dict[name, callable]``: ``compile`` (validate,
verify, record) and, when present, ``train`` (prepare_training_data, register_artifacts),
``dataset_import`` (ingest_demo_dataset).
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from typing import Any

Step = Callable[[Any], Any]
MODULES = ("compile", "train", "dataset_import", "pipelines", "release", "study", "pipeline_jobs", "job_slots")


def registry(container: Any) -> dict[str, Step]:
    out: dict[str, Step] = {}
    for name in MODULES:
        qualified = f"{__name__}.{name}"
        if importlib.util.find_spec(qualified) is None:
            continue
        module = importlib.import_module(qualified)
        for step, fn in module.steps(container).items():
            if step in out:
                raise ValueError(f"step function {step!r} is defined twice")
            out[step] = fn
    return out
