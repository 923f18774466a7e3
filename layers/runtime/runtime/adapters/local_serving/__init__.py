"""Local ServingBackend: supervised ``jobs.serve`` processes (see ``backend``)."""

from runtime.adapters.local_serving.backend import LocalServingBackend

__all__ = ["LocalServingBackend"]
