"""AWS ServingBackend: SageMaker real-time endpoints serving ``jobs.serve`` (ADR 0014)."""

from runtime.adapters.sagemaker_serving.backend import SageMakerServingBackend

__all__ = ["SageMakerServingBackend"]
