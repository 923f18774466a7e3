"""The ``demo-import`` workflow's step: the import job's files become a dataset
(``runtime.services.demo_import.ingest_once``); a name taken meanwhile fails the run as
``TLM.NameTaken`` (the request then ends failed, with the reason)."""

from __future__ import annotations

from typing import Any

from domain.errors import Conflict
from domain.workflows.model import StepError
from runtime.services.demo_import import ingest_once

NAME_TAKEN = "TLM.NameTaken"


def ingest_demo_dataset(container: Any, doc: dict[str, Any]) -> dict[str, Any]:
    try:
        return ingest_once(container, doc)
    except Conflict as exc:
        raise StepError(NAME_TAKEN, exc.message) from exc


def steps(container: Any) -> dict[str, Any]:
    return {"ingest_demo_dataset": lambda doc: ingest_demo_dataset(container, doc)}
