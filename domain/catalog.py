"""Every event type of the domain, registered by importing every domain module. An entry point
that decodes events it did not write itself (the projector Lambda, rebuilds) calls ``load_all``
so no known event is taken for an unknown one. The domain is pure, so this is cheap."""

from __future__ import annotations

import importlib
import pkgutil

from domain.events import DomainEvent, registered_types


def load_all() -> dict[str, type[DomainEvent]]:
    import domain

    for module in pkgutil.walk_packages(domain.__path__, "domain."):
        importlib.import_module(module.name)
    return registered_types()
