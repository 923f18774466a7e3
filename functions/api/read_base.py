"""Base classes and shared shapes of the typed read models. ``functions.api.read_models`` and
every ``functions.api.read_models_<area>`` module import them from here (an area module never
imports ``read_models``: that one imports the area modules)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from functions.api.schemas import Family, Kind


class Out(BaseModel):
    """A read model: extra fields allowed (a service may add one without breaking the document)."""

    model_config = ConfigDict(extra="allow")


class Stamp(Out):
    at: str = Field(description="ISO 8601 time")
    by: str = Field(description="user id")


class FileEntry(Out):
    path: str
    size: int
    sha256: str


class OpenUpload(Out):
    upload_id: str
    path: str
    size: int
    sha256: str


class Model(Out):
    model_id: str
    project_id: str
    name: str
    family: Family
    description: str
    tags: list[str]
    license: str
    source: str
    kind: Kind
    files: list[FileEntry]
    open_uploads: list[OpenUpload] = []
    deleted: bool
    version: int
