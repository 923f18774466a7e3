"""Step Functions Lambda task for every step of the shipped workflows. Each step is its own
Lambda (CDK sets ``TLM_STEP`` to the step's name, one of
``runtime.workflows.definitions.STEP_FUNCTIONS``); the work is the same callable the local
workflow runner uses (``runtime.workflows.steps``).

Error names are the same on both backends: Lambda reports an exception's class name as the
``errorType`` that Step Functions' Retry/Catch match on, so a step's ``StepError("TLM.X", cause)``
is re-raised as an exception whose class is named ``TLM.X`` (the cause is its message), exactly
what the local runner records. Other exceptions keep their class name, as locally."""

from __future__ import annotations

import os
from typing import Any


def named_error(error: str, cause: str) -> Exception:
    """An exception whose class name is ``error`` (e.g. ``TLM.InvalidModel``)."""
    cls = type(error, (Exception,), {"__module__": "tlm.steps", "__qualname__": error})
    return cls(cause or error)


def handler(event: Any, context: Any) -> Any:
    from domain.workflows.model import StepError
    from runtime.bootstrap import get_container
    from runtime.workflows.steps import registry

    name = os.environ.get("TLM_STEP", "")
    steps = registry(get_container())
    if name not in steps:
        raise LookupError(f"TLM_STEP={name!r} is not a step function ({', '.join(sorted(steps))})")
    try:
        return steps[name](event)
    except StepError as e:
        raise named_error(e.error, e.cause) from e
