"""Path-level differences between two config values (or two versions of one config)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from domain.configs import paths
from domain.configs.paths import Values

ChangeKind = Literal["added", "removed", "changed"]


class FieldChange(BaseModel):
    """One leaf path that differs. ``old`` is None for "added", ``new`` None for "removed"
    (a value explicitly set to null is "changed" to/from None, with the kind telling them apart)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    path: str
    kind: ChangeKind
    old: Any = None
    new: Any = None


def _same(a: Any, b: Any) -> bool:
    # 1 == 1.0 == True in Python; a config that changes an int to a float did change.
    if type(a) is not type(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return bool(a == b)


def diff_values(old: Values, new: Values) -> list[FieldChange]:
    """Leaf changes turning ``old`` into ``new``, sorted by path."""
    a, b = paths.flatten(old), paths.flatten(new)
    changes: list[FieldChange] = []
    for path in sorted(a.keys() | b.keys()):
        if path not in b:
            changes.append(FieldChange(path=path, kind="removed", old=a[path]))
        elif path not in a:
            changes.append(FieldChange(path=path, kind="added", new=b[path]))
        elif not _same(a[path], b[path]):
            changes.append(FieldChange(path=path, kind="changed", old=a[path], new=b[path]))
    return changes


def apply_changes(values: Values, changes: list[FieldChange]) -> Values:
    """Inverse of ``diff_values``: ``apply_changes(a, diff_values(a, b)) == b``."""
    out = values
    for ch in changes:
        if ch.kind == "removed":
            out = paths.unset(out, ch.path)
    for ch in changes:
        if ch.kind != "removed":
            out = paths.set_(out, ch.path, ch.new)
    return out


def summarize(changes: list[FieldChange]) -> dict[str, dict[str, Any]]:
    """Grouped form for APIs: {"added": {path: new}, "removed": {path: old},
    "changed": {path: {"old", "new"}}}."""
    out: dict[str, dict[str, Any]] = {"added": {}, "removed": {}, "changed": {}}
    for ch in changes:
        if ch.kind == "added":
            out["added"][ch.path] = ch.new
        elif ch.kind == "removed":
            out["removed"][ch.path] = ch.old
        else:
            out["changed"][ch.path] = {"old": ch.old, "new": ch.new}
    return out
