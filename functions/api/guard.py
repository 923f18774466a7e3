"""Checks on a request body before the resolver parses it: what would otherwise end in a 500
(or, worse, be silently accepted) ends in a 4xx naming the field.

- Only JSON: a body with another media type is a 415 (``Content-Type``).
- Nesting deeper than ``MAX_DEPTH`` is a 422 before ``json.loads`` recurses (a RecursionError).
- Lone surrogates (``"\\ud800"``) anywhere, keys included, are a 422 naming the path: they are
  valid JSON but no valid text, and SQLite / UTF-8 encoding would fail on them later.
- The top level must be an object (every request body of this API is one): an array used to
  be read as its first element's fields.
"""

from __future__ import annotations

import json
from typing import Any

from domain.errors import DomainError, Invalid

MAX_DEPTH = 32


class UnsupportedMediaType(DomainError):
    status = 415
    code = "unsupported_media_type"


def nesting_depth(text: str, limit: int = MAX_DEPTH) -> int:
    """The deepest ``[``/``{`` nesting of a JSON (or YAML flow) text, counted outside strings;
    stops counting once past ``limit``."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > limit:
                    return deepest
        elif ch in "]}":
            depth -= 1
    return deepest


def check_depth(text: str, field: str, limit: int = MAX_DEPTH) -> None:
    if nesting_depth(text, limit) > limit:
        raise Invalid(f"nested deeper than {limit} levels", field=field)


def _path(parts: list[str | int]) -> str:
    return ".".join(str(p) for p in parts) or "body"


def _has_surrogate(text: str) -> bool:
    return any("\ud800" <= ch <= "\udfff" for ch in text)


def check_text(value: Any, parts: list[str | int] | None = None) -> None:
    """Every string in a parsed JSON value is valid Unicode text (no lone surrogates)."""
    parts = parts or []
    if isinstance(value, str):
        if _has_surrogate(value):
            raise Invalid("not valid Unicode text (a lone surrogate)", field=_path(parts))
    elif isinstance(value, dict):
        for k, v in value.items():
            if _has_surrogate(k):
                raise Invalid("a key is not valid Unicode text (a lone surrogate)", field=_path(parts))
            check_text(v, [*parts, k])
    elif isinstance(value, list):
        for i, v in enumerate(value):
            check_text(v, [*parts, i])


def check_body(event: dict[str, Any]) -> None:
    """Raise a DomainError for a body the API must not hand to the resolver."""
    body = event.get("body")
    if not body:
        return
    if event.get("isBase64Encoded"):
        raise UnsupportedMediaType("request bodies are JSON text", field="Content-Type")
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    media = (headers.get("content-type") or "application/json").split(";")[0].strip().lower()
    if media != "application/json":
        raise UnsupportedMediaType(f"request bodies are application/json, not {media}", field="Content-Type")
    check_depth(body, "body")
    try:
        parsed = json.loads(body)
    except (ValueError, RecursionError):
        return  # the resolver answers malformed JSON (400) itself
    if not isinstance(parsed, dict):
        raise Invalid("the request body must be a JSON object", field="body")
    check_text(parsed)
