"""Step Functions Lambda task for every step of the shipped workflows. Each step is its own
Lambda (CDK sets ``TLM_STEP`` to the step's name, one of
``runtime.workflows.definitions.STEP_FUNCTIONS``); the work is the same callable the local
workflow runner uses (``runtime.workflows.steps``). A step's ``StepError`` becomes the ASL error
name that Retry/Catch match on."""

from __future__ import annotations

import os
from typing import Any


def handler(event: Any, context: Any) -> Any:
    from runtime.bootstrap import get_container
    from runtime.workflows.steps import registry

    name = os.environ.get("TLM_STEP", "")
    steps = registry(get_container())
    if name not in steps:
        raise LookupError(f"TLM_STEP={name!r} is not a step function ({', '.join(sorted(steps))})")
    return steps[name](event)
