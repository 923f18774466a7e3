"""Request bodies (validated by the resolver) - the API's public contract."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from domain.compiles.recipes import RECIPES
from domain.library.values import FAMILIES, ROLES

# The largest integer a client may send for a version, cursor or log index: every such value
# fits SQLite's 64-bit INTEGER and a JavaScript number exactly (bigger ones were 500s).
MAX_INT = 2**53 - 1
MAX_UPLOAD_BYTES = 5 * 1024**4  # 5 TiB, S3's object limit
MAX_PART_BYTES = 5 * 1024**3  # 5 GiB, S3's part limit


# closed sets, as enums in the OpenAPI document (the domain checks them again)
Family = Literal[FAMILIES]  # type: ignore[valid-type]
Role = Literal[ROLES]  # type: ignore[valid-type]
CompileTarget = Literal[tuple(RECIPES)]  # type: ignore[valid-type]
RunStatus = Literal["new", "running", "cancelling", "succeeded", "failed", "cancelled"]
Kind = Literal["model", "dataset", "all"]
TagsMode = Literal["all", "any"]
Sort = Literal["name", "-name", "created", "-created", "updated", "-updated"]
Format = Literal["json", "yaml"]


class Body(BaseModel):
    """Request bodies: unknown fields refused, strict types (no "10" for an integer, no true for
    a number)."""

    model_config = ConfigDict(extra="forbid", strict=True)


class CreateProject(Body):
    name: str = Field(min_length=1, max_length=128)
    description: str = Field(default="", max_length=4000)


class SetMember(Body):
    role: Role


class RegisterModel(Body):
    name: str = Field(min_length=1, max_length=128, examples=["中文情感分类模型"])
    family: Family
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
    size: int = Field(ge=0, le=MAX_UPLOAD_BYTES)
    sha256: str = Field(min_length=64, max_length=64)
    part_size: int | None = Field(default=None, ge=1, le=MAX_PART_BYTES)
    part_crc32: list[str] | None = Field(
        default=None, max_length=10_000, description="base64 CRC32 (big-endian) of every part, in order"
    )


class PartNumbers(Body):
    parts: list[Annotated[int, Field(ge=1, le=10_000)]] = Field(min_length=1, max_length=10_000)


# ---------------------------------------------------------------- configs (issue 4)
class CreateConfig(Body):
    """Exactly one source: ``template`` (a built-in preset name) or ``file`` (JSON/YAML text)."""

    template: str | None = Field(default=None, min_length=1, max_length=64, examples=["bert-base"])
    file: str | None = Field(default=None, max_length=1_000_000, description="JSON or YAML file content")
    format: str | None = Field(default=None, description="json | yaml (the content is parsed either way)")
    filename: str | None = Field(default=None, max_length=256)
    name: str | None = Field(default=None, min_length=1, max_length=128)
    description: str | None = Field(default=None, max_length=4000)
    overrides: dict[str, Any] | None = Field(default=None, description="dotted path -> value")


class EditConfig(Body):
    set: dict[str, Any] | None = Field(default=None, description="dotted path -> value")
    unset: list[str] | None = None
    values: dict[str, Any] | None = Field(default=None, description="replace all values")
    name: str | None = Field(default=None, min_length=1, max_length=128)
    description: str | None = Field(default=None, max_length=4000)
    expected_version: int | None = Field(default=None, ge=0, le=MAX_INT)


class BatchEdit(Body):
    config_ids: list[str] = Field(min_length=1, max_length=100)
    set: dict[str, Any] | None = None
    unset: list[str] | None = None


class ImportConfig(Body):
    file: str = Field(min_length=1, max_length=1_000_000, description="portable tlm.config (JSON/YAML)")
    name: str | None = Field(default=None, min_length=1, max_length=128)


class DeriveConfig(Body):
    name: str = Field(min_length=1, max_length=128)
    description: str = Field(default="", max_length=4000)
    edit: dict[str, Any] = Field(description="num_layers, keep_layers, hidden_size, num_heads, activation...")
    project_id: str | None = None
    parent_version: int | None = Field(default=None, ge=1, le=MAX_INT)


class ArchTest(Body):
    batch_size: int | None = Field(default=None, ge=1, le=64)
    seq_len: int | None = Field(default=None, ge=8, le=4096)
    repeats: int | None = Field(default=None, ge=1, le=50)
    num_threads: int | None = Field(default=None, ge=1, le=64)
    text: str | None = Field(default=None, min_length=1, max_length=20_000)


# ---------------------------------------------------------------- compiles (issue 5)
class StartCompile(Body):
    target: CompileTarget = Field(description="a compile recipe", examples=["onnx-int8"])
    params: dict[str, Any] = Field(
        default_factory=dict,
        description="recipe fields (domain.compiles.recipes), e.g. {\"opset\": 18, \"sample_size\": 32}",
    )


class CancelRequest(Body):
    reason: str = Field(default="", max_length=1000)
