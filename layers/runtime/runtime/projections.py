"""Registry of the projections (read views) that exist.

A module that defines a projection registers an instance at import time::

    from runtime import projections
    MODEL_LIST = projections.register(ModelListProjection())

Both projectors (the local SQLite runner and the DynamoDB Streams Lambda) project every
registered projection unless given an explicit list. ``load()`` imports the modules named in
``MODULES`` so that an entry point (the Lambda, the local server) sees all of them without
importing each service itself; add your module's dotted name there.

Ordering rule for projection authors: the local projector applies events in global commit order,
but DynamoDB Streams only keeps order *within* a stream. A row that folds events from several
streams must therefore give the same result for any interleaving of those streams (e.g. keep a
per-stream sub-map, or fields each owned by one stream). Events of one stream always arrive in
version order.
"""

from __future__ import annotations

import importlib
import threading

from domain.projection import Projection

# Modules that register projections when imported. Entry points call load() to import them.
MODULES: list[str] = ["runtime.views.library", "runtime.views.compiles", "runtime.workflows.runs_view"]
MODULES.append("runtime.views.configs")  # the configs list (issue 11)
MODULES += ["runtime.views.pipelines", "runtime.views.project_activity"]  # issue 15
MODULES.append("runtime.views.studies")  # issue 13: a project's studies

_REGISTRY: dict[str, Projection] = {}
_LOCK = threading.Lock()


def register(projection: Projection) -> Projection:
    """Register one projection under its ``view`` name; returns it (so it can be assigned).
    Registering the same object twice is a no-op; another object with the same view raises."""
    view = getattr(projection, "view", None)
    if not isinstance(view, str) or not view:
        raise ValueError("a projection needs a non-empty 'view' name")
    with _LOCK:
        existing = _REGISTRY.get(view)
        if existing is not None and existing is not projection:
            raise ValueError(f"view {view!r} registered twice")
        _REGISTRY[view] = projection
    return projection


def unregister(view: str) -> None:
    """Remove a view's projection (tests; retiring a view)."""
    with _LOCK:
        _REGISTRY.pop(view, None)


def get(view: str) -> Projection:
    try:
        return _REGISTRY[view]
    except KeyError:
        raise KeyError(f"no projection registered for view {view!r}") from None


def load() -> None:
    """Import every module in ``MODULES`` (idempotent)."""
    for name in MODULES:
        importlib.import_module(name)


def all() -> list[Projection]:  # noqa: A001 - the registry's natural name
    """Every registered projection, in view-name order, after ``load()``."""
    load()
    with _LOCK:
        return [_REGISTRY[v] for v in sorted(_REGISTRY)]


def select(projections: list[Projection], views: list[str] | tuple[str, ...] | None) -> list[Projection]:
    """The projections for ``views`` (all of them for None); unknown names raise KeyError."""
    if views is None:
        return list(projections)
    by_view = {p.view: p for p in projections}
    missing = [v for v in views if v not in by_view]
    if missing:
        raise KeyError(f"unknown view(s): {', '.join(missing)}")
    return [by_view[v] for v in views]
