"""Step Functions task ``verify_compile`` (Lambda): thin, the work is in
``runtime.workflows.steps`` (the same callable the local runner uses)."""

from __future__ import annotations

from typing import Any

NAME = "verify_compile"


def handler(event: Any, context: Any) -> Any:
    from runtime.bootstrap import get_container
    from runtime.workflows.steps import registry

    return registry(get_container())[NAME](event)
