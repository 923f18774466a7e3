"""SageMaker adapter of the JobRunner port (requests built as plain dicts)."""

from runtime.adapters.sagemaker.requests import (
    encode_hyperparameters,
    metric_definitions_for,
    processing_job_request,
    training_job_request,
    validate_job_name,
)

__all__ = [
    "SageMakerJobRunner",
    "encode_hyperparameters",
    "metric_definitions_for",
    "processing_job_request",
    "training_job_request",
    "validate_job_name",
]


def __getattr__(name: str) -> object:  # keep botocore out of imports of the pure builders
    if name == "SageMakerJobRunner":
        from runtime.adapters.sagemaker.runner import SageMakerJobRunner

        return SageMakerJobRunner
    raise AttributeError(name)
