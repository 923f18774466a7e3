"""The portable config file: share a config between projects, teams or installations.

Document (JSON or YAML, same fields)::

    {"format": "tlm.config", "schema_version": 1, "name": ..., "description": ...,
     "family": ..., "values": {complete parameter configuration}}

``dumps`` then ``loads`` gives back exactly the same document (key order included), and
``dumps(loads(text))`` reproduces ``text`` for files TLM wrote. A document from a newer schema
version is refused (Invalid, field "schema_version") rather than half-understood. A plain
parameter configuration (``{"family": ..., "architecture": ...}``) is accepted on upload too.
"""

from __future__ import annotations

import json
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict

from domain.configs.validation import validate
from domain.errors import Invalid, TooLarge

FORMAT = "tlm.config"
SCHEMA_VERSION = 1
MAX_BYTES = 1_000_000
Fmt = Literal["json", "yaml"]


class PortableConfig(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    description: str = ""
    family: str
    values: dict[str, Any]
    schema_version: int = SCHEMA_VERSION

    def document(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "schema_version": SCHEMA_VERSION,
            "name": self.name,
            "description": self.description,
            "family": self.family,
            "values": self.values,
        }


def dumps(doc: PortableConfig, fmt: Fmt = "json") -> str:
    data = doc.document()
    if fmt == "json":
        return json.dumps(data, ensure_ascii=False, indent=2) + "\n"
    if fmt == "yaml":
        return yaml.safe_dump(data, allow_unicode=True, sort_keys=False, default_flow_style=False)
    raise Invalid(f"unknown export format {fmt!r}; expected json or yaml", field="format")


def parse(text: str | bytes) -> Any:
    """JSON or YAML text -> data. Bad syntax -> Invalid(field="file")."""
    if isinstance(text, bytes):
        if len(text) > MAX_BYTES:
            raise TooLarge(f"config file larger than {MAX_BYTES} bytes", field="file")
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise Invalid("config file is not UTF-8 text", field="file") from None
    if len(text) > MAX_BYTES:
        raise TooLarge(f"config file larger than {MAX_BYTES} bytes", field="file")
    try:
        return json.loads(text)
    except ValueError:
        pass
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as e:
        where = getattr(e, "problem_mark", None)
        at = f" at line {where.line + 1}, column {where.column + 1}" if where is not None else ""
        raise Invalid(
            f"not valid JSON or YAML{at}: {getattr(e, 'problem', None) or e}", field="file"
        ) from None


def loads(text: str | bytes, *, default_name: str | None = None) -> PortableConfig:
    """Parse and check a portable document or a bare parameter configuration. The values are
    validated in full (ConfigInvalid naming the field)."""
    data = parse(text)
    values: Any
    name: Any
    description: Any
    version: Any
    if not isinstance(data, dict):
        raise Invalid("config file must hold a mapping at the top level", field="file")
    if "format" not in data and "values" not in data:  # a bare parameter configuration
        values = data
        name, description = default_name or str(values.get("family", "config")), ""
        version = SCHEMA_VERSION
    else:
        if data.get("format") != FORMAT:
            raise Invalid(f"format must be {FORMAT!r}", field="format")
        version = data.get("schema_version")
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise Invalid("schema_version must be a positive integer", field="schema_version")
        if version > SCHEMA_VERSION:
            raise Invalid(
                f"file has schema_version {version}; this TLM reads up to {SCHEMA_VERSION} (upgrade TLM)",
                field="schema_version",
            )
        values = data.get("values")
        if not isinstance(values, dict):
            raise Invalid("values must be a mapping", field="values")
        name = data.get("name") or default_name
        if not isinstance(name, str) or not name.strip():
            raise Invalid("name must be a non-empty string", field="name")
        description = data.get("description") or ""
        if not isinstance(description, str):
            raise Invalid("description must be a string", field="description")
        if "family" in data and data["family"] != values.get("family"):
            raise Invalid(f"family {data['family']!r} differs from values.family {values.get('family')!r}",
                          field="family")  # fmt: skip
    validate(values)
    return PortableConfig(
        name=name, description=description, family=values["family"], values=values, schema_version=version
    )
