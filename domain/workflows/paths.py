"""The small JSONPath subset workflow definitions use, shared by the local runner and the ASL
renderer so both read data the same way.

- ``$`` is the whole document; ``$.a.b`` a dotted path of identifiers (no filters, no slices).
- ``$$.Execution.Name`` / ``$$.Execution.Id`` / ``$$.State.Name`` / ``$$.State.EnteredTime``: the
  context object (the run), as in Step Functions.
- In ``parameters`` maps, a string value that is a path is a *reference*, resolved at run time
  (rendered as ``"key.$": "$.path"``); everything else is a literal. A literal string that starts
  with ``$`` cannot be expressed (documented limitation).
"""

from __future__ import annotations

import copy
import re
from typing import Any

from domain.errors import Invalid

_PATH = re.compile(r"^\$(\.[A-Za-z_][A-Za-z0-9_]*)*$")
_CONTEXT = re.compile(r"^\$\$(\.[A-Za-z_][A-Za-z0-9_]*)+$")


def is_path(value: object) -> bool:
    return isinstance(value, str) and bool(_PATH.match(value))


def is_context_path(value: object) -> bool:
    return isinstance(value, str) and bool(_CONTEXT.match(value))


def is_reference(value: object) -> bool:
    return is_path(value) or is_context_path(value)


def check_path(value: str, *, field: str) -> str:
    if not is_path(value):
        raise Invalid(f"{value!r} is not a path like '$' or '$.a.b'", field=field)
    return value


def _parts(path: str) -> list[str]:
    return [p for p in path.split(".")[1:] if p]


class PathError(Exception):
    """A reference names a field the document does not have (Step Functions: States.Runtime)."""


def get(document: Any, path: str, context: dict[str, Any] | None = None) -> Any:
    if is_context_path(path):
        current: Any = context or {}
        parts = _parts(path[1:])
    else:
        current = document
        parts = _parts(path)
    for part in parts:
        if not isinstance(current, dict) or part not in current:
            raise PathError(f"the path {path!r} matches nothing")
        current = current[part]
    return current


def present(document: Any, path: str) -> bool:
    try:
        get(document, path)
    except PathError:
        return False
    return True


def put(document: Any, path: str | None, value: Any) -> Any:
    """Return a copy of ``document`` with ``value`` at ``path`` (``$`` replaces it; None drops
    the value and keeps the document, like ``ResultPath: null``)."""
    if path is None:
        return document
    parts = _parts(path)
    if not parts:
        return value
    result = copy.deepcopy(document) if isinstance(document, dict) else {}
    current = result
    for part in parts[:-1]:
        nxt = current.get(part)
        if not isinstance(nxt, dict):
            nxt = {}
            current[part] = nxt
        current = nxt
    current[parts[-1]] = value
    return result


def resolve(template: Any, document: Any, context: dict[str, Any] | None = None) -> Any:
    """A parameters template with every reference replaced by the value it points at."""
    if is_reference(template):
        return copy.deepcopy(get(document, template, context))
    if isinstance(template, dict):
        return {k: resolve(v, document, context) for k, v in template.items()}
    if isinstance(template, list):
        return [resolve(v, document, context) for v in template]
    return template
