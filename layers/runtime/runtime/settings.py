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

    # aws backend (names come from the CDK stack outputs as env vars)
    region: str = "us-east-1"
    events_table: str = "tlm-events"
    views_table: str = "tlm-views"
    idempotency_table: str = "tlm-idempotency"
    blobs_bucket: str = "tlm-blobs"
    payload_offload_bytes: int = Field(default=350_000, ge=1024)
    endpoint_url: str | None = None  # moto server / localstack

    max_part_bytes: int = 64 * 1024 * 1024
    min_part_bytes: int = 5 * 1024 * 1024

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
