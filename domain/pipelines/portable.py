"""The pipeline file a person reads and writes: YAML or JSON, same fields, stable key order.

::

    format: tlm.pipeline
    schema_version: 1
    name: sentiment
    description: template -> data -> train -> evaluate -> gate -> compile
    nodes:
    - id: model
      kind: choose_model
      params: {template: bert-tiny}
    - id: train
      kind: train
      inputs: {dataset: data.dataset, config: params.config, model: model.model}

Reading uses ``yaml.safe_load`` only (JSON first), after a size limit (``MAX_BYTES``); the parsed
document must stay within ``MAX_DEPTH`` levels and ``MAX_ITEMS`` values (YAML aliases expand into
that count, so an alias bomb is refused). ``dumps(loads(text))`` reproduces files TLM wrote.
"""

from __future__ import annotations

import json
from typing import Any, Literal

import yaml

from domain.errors import Invalid, TooLarge
from domain.pipelines.model import Definition, canonical, validate

FORMAT = "tlm.pipeline"
SCHEMA_VERSION = 1
MAX_BYTES = 256_000
MAX_DEPTH = 24
MAX_ITEMS = 20_000
Fmt = Literal["json", "yaml"]


def document(defn: Definition) -> dict[str, Any]:
    """The file form of a canonical definition (nodes as a list, fields in a fixed order)."""
    nodes = []
    for nid, n in defn["nodes"].items():
        item: dict[str, Any] = {"id": nid, "kind": n["kind"]}
        if n.get("params"):
            item["params"] = n["params"]
        if n.get("inputs"):
            item["inputs"] = n["inputs"]
        if n.get("after"):
            item["after"] = n["after"]
        nodes.append(item)
    return {
        "format": FORMAT,
        "schema_version": SCHEMA_VERSION,
        "name": defn["name"],
        "description": defn.get("description", ""),
        "nodes": nodes,
    }


def dumps(defn: Definition, fmt: str = "yaml") -> str:
    data = document(defn)
    if fmt == "json":
        return json.dumps(data, ensure_ascii=False, indent=2) + "\n"
    if fmt == "yaml":
        return yaml.safe_dump(data, allow_unicode=True, sort_keys=False, default_flow_style=False, width=100)
    raise Invalid(f"unknown format {fmt!r}; expected json or yaml", field="format")


def check_bounds(value: Any) -> None:
    count = 0
    todo: list[tuple[Any, int]] = [(value, 1)]
    while todo:
        v, depth = todo.pop()
        count += 1
        if count > MAX_ITEMS:
            raise TooLarge(f"pipeline file holds more than {MAX_ITEMS} values (YAML aliases count)", field="file")
        if depth > MAX_DEPTH:
            raise Invalid(f"pipeline file nested deeper than {MAX_DEPTH} levels", field="file")
        if isinstance(v, dict):
            for k, x in v.items():
                if not isinstance(k, str):
                    raise Invalid(f"mapping keys must be strings, got {k!r}", field="file")
                todo.append((x, depth + 1))
        elif isinstance(v, list):
            todo.extend((x, depth + 1) for x in v)
        elif not (v is None or isinstance(v, str | int | float | bool)):
            raise Invalid(f"unsupported value {type(v).__name__} (dates and tags are not allowed)", field="file")


def parse(text: str | bytes) -> Any:
    if isinstance(text, bytes):
        if len(text) > MAX_BYTES:
            raise TooLarge(f"pipeline file larger than {MAX_BYTES} bytes", field="file")
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise Invalid("pipeline file is not UTF-8 text", field="file") from None
    if len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        raise TooLarge(f"pipeline file larger than {MAX_BYTES} bytes", field="file")
    try:
        try:
            data = json.loads(text)
        except ValueError:
            data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise Invalid(f"not valid JSON or YAML{at}: {getattr(e, 'problem', None) or e}", field="file") from None
    except RecursionError:
        raise Invalid(f"pipeline file nested deeper than {MAX_DEPTH} levels", field="file") from None
    check_bounds(data)
    return data


def from_document(data: Any) -> Definition:
    """A parsed file (or an API body's ``definition``) -> a validated canonical definition."""
    if not isinstance(data, dict):
        raise Invalid("a pipeline file holds a mapping at the top level", field="file")
    if "format" in data and data["format"] != FORMAT:
        raise Invalid(f"format must be {FORMAT!r}", field="format")
    version = data.get("schema_version", SCHEMA_VERSION)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise Invalid("schema_version must be a positive integer", field="schema_version")
    if version > SCHEMA_VERSION:
        raise Invalid(f"file has schema_version {version}; this TLM reads up to {SCHEMA_VERSION}",
                      field="schema_version")  # fmt: skip
    return validate(canonical(data))


def loads(text: str | bytes) -> Definition:
    return from_document(parse(text))
