"""Every operation of the OpenAPI document declares a typed answer (issue 11 item 4): each 2xx
response has a JSON body schema that is a component with declared properties, and every read
model key names a real route. A new route without a read model fails here; add one to a
``functions/api/read_models_<area>.py`` module (see docs/conventions.md, "API edge")."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from functions.api.app import app, openapi_json
from functions.api.read_models import RESPONSES, collect

pytestmark = pytest.mark.unit

TEXT_MEDIA = {"application/yaml", "text/plain"}  # a file served as text: its schema is a string


def _document() -> dict[str, Any]:
    return json.loads(openapi_json())  # type: ignore[no-any-return]


def untyped_answers(doc: dict[str, Any]) -> list[str]:
    """``METHOD path code media`` of every success answer without a typed body schema."""
    components = doc.get("components", {}).get("schemas", {})
    out = []
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            ok = [c for c in op["responses"] if c.startswith("2")]
            if not ok:
                out.append(f"{method.upper()} {path} (no 2xx)")
            for code in ok:
                content = op["responses"][code].get("content") or {}
                if not content:
                    out.append(f"{method.upper()} {path} {code} (no body schema)")
                for media, spec in content.items():
                    schema = spec.get("schema") or {}
                    if media in TEXT_MEDIA and schema.get("type") == "string":
                        continue
                    ref = str(schema.get("$ref", "")).rpartition("/")[2]
                    if not components.get(ref, {}).get("properties"):
                        out.append(f"{method.upper()} {path} {code} {media}")
    return out


def test_every_operation_answers_a_typed_read_model() -> None:
    # Given the API's OpenAPI document
    doc = _document()
    # Then every operation's success answers have a typed schema
    assert untyped_answers(doc) == []
    assert sum(len(ops) for ops in doc["paths"].values()) >= 60


def test_the_check_sees_an_untyped_answer() -> None:
    # Given a document where one route answers a bare object (what a route without a model gets)
    doc = _document()
    op = doc["paths"]["/runs/{run_id}"]["get"]
    op["responses"]["200"]["content"]["application/json"]["schema"] = {"type": "object", "additionalProperties": True}
    del doc["paths"]["/runs"]["get"]["responses"]["200"]["content"]
    # Then both are reported
    assert untyped_answers(doc) == ["GET /runs/{run_id} 200 application/json", "GET /runs 200 (no body schema)"]


def test_every_read_model_names_a_route() -> None:
    routes = {(r.method, r.path) for r in (*app._static_routes, *app._dynamic_routes)}
    assert sorted(set(RESPONSES) - routes) == []


def _package(tmp_path: Path, name: str, modules: dict[str, str]) -> str:
    pkg = tmp_path / name
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    for mod, text in modules.items():
        (pkg / f"{mod}.py").write_text(text)
    sys.path.insert(0, str(tmp_path))
    return name


MODEL = "from functions.api.read_base import Out\nclass A(Out):\n    a: int\n"


def test_area_modules_are_merged_and_a_route_declared_twice_is_refused(tmp_path: Path) -> None:
    try:
        # Given two area modules, one of them claiming a core route
        pkg = _package(tmp_path, "rm_pkg_one", {
            "read_models_x": MODEL + "RESPONSES = {('GET', '/x'): A}\n",
            "read_models_y": MODEL + "RESPONSES = {('GET', '/health'): A}\n",
            "other": "RESPONSES = {('GET', '/ignored'): None}\n",
        })  # fmt: skip
        # Then collecting them names both modules
        with pytest.raises(ValueError, match=r"'/health'.*functions.api.read_models and in rm_pkg_one.read_models_y"):
            collect(pkg)
        # And without the clash every area's routes are there, the non-area module left out
        (tmp_path / pkg / "read_models_y.py").write_text(MODEL + "RESPONSES = {('GET', '/y'): A}\n")
        sys.modules.pop(f"{pkg}.read_models_y", None)
        merged = collect(pkg)
        assert {("GET", "/x"), ("GET", "/y"), ("GET", "/health")} <= set(merged)
        assert ("GET", "/ignored") not in merged
    finally:
        sys.path.remove(str(tmp_path))


def test_an_area_module_without_responses_is_an_error(tmp_path: Path) -> None:
    try:
        pkg = _package(tmp_path, "rm_pkg_two", {"read_models_z": MODEL})
        with pytest.raises(ValueError, match="read_models_z has no RESPONSES"):
            collect(pkg)
    finally:
        sys.path.remove(str(tmp_path))


def test_schema_names_are_unique_so_the_ui_types_keep_their_names() -> None:
    # Given the document: two read models of one class name get module-qualified schema names
    # ("functions__api__read_models_x__Metrics"), which the UI's generated types then lack
    names = _document().get("components", {}).get("schemas", {})
    # Then no schema name is qualified
    assert [n for n in names if "__" in n] == []
