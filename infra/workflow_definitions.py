"""Where the workflow state machines come from: ``runtime.workflows`` renders each definition to ASL
with ``sync_jobs=True`` (SageMaker ``.sync`` integrations). Kept apart from app.py so tests can pass
their own definitions."""

from __future__ import annotations

from typing import Any


def rendered_definitions() -> dict[str, dict[str, Any]]:
    from runtime.workflows import asl, definitions  # noqa: PLC0415 - only the CDK app needs them

    catalog = definitions.all_definitions() if hasattr(definitions, "all_definitions") else definitions.DEFINITIONS
    items = catalog.items() if isinstance(catalog, dict) else ((d.name, d) for d in catalog)
    return {name: asl.render(defn, sync_jobs=True) for name, defn in items}
