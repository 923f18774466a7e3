"""Request bodies (validated by the resolver) - the API's public contract."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CreateProject(Body):
    name: str = Field(min_length=1, max_length=128)
    description: str = Field(default="", max_length=4000)


class SetMember(Body):
    role: str = Field(description="viewer | editor | owner")


class RegisterModel(Body):
    name: str = Field(min_length=1, max_length=128, examples=["中文情感分类模型"])
    family: str = Field(description="bert | roberta | albert | electra | xlnet | other")
    description: str = Field(default="", max_length=4000)
    tags: list[str] = Field(default_factory=list)
    license: str = Field(default="", max_length=128)
    source: str = Field(default="", max_length=512)


class UpdateModel(Body):
    description: str | None = Field(default=None, max_length=4000)
    tags: list[str] | None = None
    license: str | None = Field(default=None, max_length=128)
    source: str | None = Field(default=None, max_length=512)


class StartUpload(Body):
    path: str = Field(min_length=1, max_length=512, description="file path inside the model, e.g. model.safetensors")
    size: int = Field(ge=0)
    sha256: str = Field(min_length=64, max_length=64)
    part_size: int | None = Field(default=None, ge=1)


class PartNumbers(Body):
    parts: list[int] = Field(min_length=1, max_length=10_000)
