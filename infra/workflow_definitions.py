"""Where the workflow state machines come from: every definition TLM ships
(``runtime.workflows.definitions.all_workflows()``), rendered to ASL with ``sync_jobs=True`` (SageMaker
``createTrainingJob.sync``: Step Functions waits for the job and stops it on abort). Kept apart from
app.py so tests and other apps can pass their own definitions."""

from __future__ import annotations

from typing import Any


def rendered_definitions() -> dict[str, dict[str, Any]]:
    from runtime.workflows import asl, definitions

    return {name: asl.render(w, sync_jobs=True) for name, w in definitions.all_workflows().items()}
