"""Dotted paths over nested config values ("architecture.hidden_size").

A *leaf* is any value that is not a non-empty dict (lists are leaves, as is ``{}``). Helpers
never mutate their input: they return new dicts.
"""

from __future__ import annotations

import copy
from typing import Any

Values = dict[str, Any]

_MISSING = object()


def split(path: str) -> list[str]:
    parts = path.split(".")
    if not path or any(p == "" for p in parts):
        from domain.errors import Invalid

        raise Invalid(f"bad field path {path!r}", field=path or "path")
    return parts


def flatten(values: Values, prefix: str = "") -> dict[str, Any]:
    """Leaf path -> value, in insertion order."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out.update(flatten(value, path + "."))
        else:
            out[path] = value
    return out


def get(values: Values, path: str, default: Any = None) -> Any:
    node: Any = values
    for part in split(path):
        if not isinstance(node, dict) or part not in node:
            return default
        node = node[part]
    return node


def has(values: Values, path: str) -> bool:
    return get(values, path, _MISSING) is not _MISSING


def set_(values: Values, path: str, value: Any) -> Values:
    """A copy of ``values`` with ``path`` set (intermediate dicts created; a non-dict in the
    way is replaced by a dict)."""
    out = copy.deepcopy(values)
    node = out
    parts = split(path)
    for part in parts[:-1]:
        nxt = node.get(part)
        if not isinstance(nxt, dict):
            nxt = {}
            node[part] = nxt
        node = nxt
    node[parts[-1]] = copy.deepcopy(value)
    return out


def unset(values: Values, path: str) -> Values:
    """A copy without ``path``; parents left empty by the removal are removed too."""
    out = copy.deepcopy(values)
    parts = split(path)
    chain: list[dict[str, Any]] = [out]
    node: Any = out
    for part in parts[:-1]:
        node = node.get(part) if isinstance(node, dict) else None
        if not isinstance(node, dict):
            return out
        chain.append(node)
    chain[-1].pop(parts[-1], None)
    for i in range(len(parts) - 1, 0, -1):
        if chain[i]:
            break
        chain[i - 1].pop(parts[i - 1], None)
    return out
