"""Settings from the environment (``TLM_`` prefix), validated by pydantic-settings."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TLM_", extra="ignore")

    backend: Literal["local", "aws"] = "local"

    # local backend
    data_dir: Path = Path(".tlm")
    sqlite_synchronous: Literal["FULL", "NORMAL", "OFF"] = "FULL"
    host: str = "127.0.0.1"
    port: int = 8765
    public_url: str | None = None  # base URL that part/download URLs point at
    # local HTTP server (tlm serve): timeouts in seconds and request-head limits
    server_idle_timeout: float = Field(default=5.0, gt=0)  # no request in progress
    server_header_timeout: float = Field(default=10.0, gt=0)  # the whole request head
    server_read_timeout: float = Field(default=30.0, gt=0)  # longest silence within a body
    server_graceful_timeout: float = Field(default=30.0, gt=0)  # in-flight requests at shutdown
    server_max_header_bytes: int = Field(default=32 * 1024, ge=1024)
    server_max_headers: int = Field(default=100, ge=8)

    # aws backend (names come from the CDK stack outputs as env vars)
    region: str = "us-east-1"
    events_table: str = "tlm-events"
    views_table: str = "tlm-views"
    idempotency_table: str = "tlm-idempotency"
    blobs_bucket: str = "tlm-blobs"
    payload_offload_bytes: int = Field(default=350_000, ge=1024)
    endpoint_url: str | None = None  # moto server / localstack
    artifacts_bucket: str | None = None  # job outputs (SageMaker jobs write here)
    verify_hash_max_bytes: int = 1024**3  # larger S3 uploads: S3 checksums, no sha256 pass in the trigger
    user_pool_id: str | None = None  # TLM_USER_POOL_ID: members added by e-mail resolve to their Cognito sub

    # aws workflows and jobs (CDK sets these on the API function; without them the workflow
    # runner / job runner on AWS is a clear 503, not a guess)
    account_id: str | None = None  # TLM_ACCOUNT_ID (CDK: Aws.ACCOUNT_ID), for the state machine ARNs
    aws_partition: str = "aws"  # TLM_AWS_PARTITION (CDK: Aws.PARTITION)
    state_machine_prefix: str | None = None  # TLM_STATE_MACHINE_PREFIX: machines are "<prefix>-<workflow>"
    sagemaker_role_arn: str | None = None  # TLM_SAGEMAKER_ROLE_ARN: the role SageMaker jobs run as
    job_image_uri: str | None = None  # TLM_JOB_IMAGE_URI: the jobs/ container image (every program)
    job_image_uris: dict[str, str] = Field(default_factory=dict)  # TLM_JOB_IMAGE_URIS: JSON per program
    serving_image_uri: str | None = None  # TLM_SERVING_IMAGE_URI: serving/Dockerfile's image (SageMaker endpoints)
    serving_role_arn: str | None = None  # TLM_SERVING_ROLE_ARN: the endpoints' role (default: the jobs' role)
    serving_prefix: str = "tlm"  # TLM_SERVING_PREFIX: endpoints are "<prefix>-<deployment>-<slot>"

    max_part_bytes: int = 64 * 1024 * 1024

    # per-project limit defaults (domain.limits.ProjectLimits; a project owner overrides them)
    limit_max_params: int = Field(default=500_000_000, ge=1)
    limit_max_train_memory_bytes: int = Field(default=64 * 1024**3, ge=1)
    limit_storage_bytes: int = Field(default=200 * 1024**3, ge=1)
    limit_max_jobs: int = Field(default=8, ge=1)
    limit_max_jobs_per_user: int = Field(default=4, ge=1)
    min_part_bytes: int = 5 * 1024 * 1024

    def state_machine_arns(self, workflows: list[str]) -> dict[str, str] | None:
        """workflow -> state machine ARN, or None when the settings do not name the machines."""
        if not (self.state_machine_prefix and self.account_id):
            return None
        from runtime.adapters.stepfunctions.names import state_machine_arn, state_machine_name

        return {
            w: state_machine_arn(
                self.aws_partition, self.region, self.account_id, state_machine_name(self.state_machine_prefix, w)
            )
            for w in workflows
        }

    @property
    def base_url(self) -> str:
        return self.public_url or f"http://{self.host}:{self.port}"

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / "tlm.db"

    @property
    def blobs_dir(self) -> Path:
        return self.data_dir / "blobs"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
