"""No input produces a 5xx (issue 11 item 2): the requests that did, through the API's Lambda
handler on the real local container (SQLite, files). Each is a 422 (415 for a non-JSON body)
naming the field, in the one error shape, and nothing reaches the event log."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from runtime.bootstrap import build_local, set_container
from runtime.settings import Settings
from tlm.asgi import _Context, proxy_event

pytestmark = pytest.mark.integration


class Api:
    def __init__(self, container: Any) -> None:
        self.c = container

    def __call__(
        self, method: str, path: str, body: Any = None, *, raw: bytes | None = None, media: str = "application/json"
    ) -> tuple[int, dict[str, Any]]:
        from functions.api.handler import handler

        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else b"")
        res = handler(proxy_event(method, path, {"Content-Type": media}, data, "alice"), _Context())
        self.c.catch_up()
        return int(res["statusCode"]), json.loads(res["body"])

    def events(self) -> int:
        return sum(1 for _ in self.c.store.iter_all())


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Any:
    container = build_local(Settings(data_dir=Path(tmp_path_factory.mktemp("api")) / "data"))
    set_container(container)
    a = Api(container)
    status, project = a("POST", "/projects", {"name": "hardening"})
    assert status == 201
    status, model = a("POST", f"/projects/{project['project_id']}/models", {"name": "m", "family": "bert"})
    assert status == 201
    status, config = a("POST", f"/projects/{project['project_id']}/configs", {"template": "bert-tiny"})
    assert status == 201
    a.ids = {"pid": project["project_id"], "mid": model["model_id"], "cid": config["config_id"]}  # type: ignore[attr-defined]
    yield a
    container.close()


def expect(api: Api, status: int, field: str, method: str, path: str, body: Any = None, **kw: Any) -> dict[str, Any]:
    before = api.events()
    got, answer = api(method, path.format(**api.ids), body, **kw)  # type: ignore[attr-defined]
    assert (got, answer.get("field")) == (status, field), answer
    assert set(answer) >= {"error", "message", "field"}, answer
    assert api.events() == before, "a refused request wrote to the log"
    return answer


# ---------------------------------------------------------------- integer overflow
@pytest.mark.parametrize("size", [10**400, 2**63, 5 * 1024**4 + 1])
def test_a_huge_upload_size_is_a_422_not_an_overflow(api: Api, size: int) -> None:
    expect(api, 422, "size", "POST", "/models/{mid}/uploads", {"path": "w.bin", "size": size, "sha256": "a" * 64})


@pytest.mark.parametrize("version", [2**63, 10**30])
@pytest.mark.parametrize("route", ["/configs/{cid}", "/configs/{cid}/export", "/configs/{cid}/blame"])
def test_a_version_past_sqlite_integers_is_a_422(api: Api, route: str, version: int) -> None:
    expect(api, 422, "version", "GET", f"{route}?version={version}")


def test_a_huge_parent_version_on_derive_is_a_422(api: Api) -> None:
    body = {"name": "child", "edit": {"num_layers": 1}, "parent_version": 2**63}
    expect(api, 422, "parent_version", "POST", "/configs/{cid}/derive", body)


@pytest.mark.parametrize(("query", "field"), [("cursor", "cursor"), ("from", "from")])
def test_other_huge_integers_in_queries_are_422s(api: Api, query: str, field: str) -> None:
    path = f"/models?cursor={2**63}" if query == "cursor" else f"/configs/{{cid}}/diff?from={2**63}&to=1"
    expect(api, 422, field, "GET", path)


# ---------------------------------------------------------------- text that is not text
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"set": {"description": "\ud800"}}, "set.description"),
        ({"set": {"training.seed\udfff": 1}}, "set"),
        ({"values": {"family": "bert", "architecture": ["\udc00"]}}, "values.architecture.0"),
        ({"name": "bad\ud800name"}, "name"),
    ],
)
def test_lone_surrogates_in_config_fields_are_422s(api: Api, body: dict[str, Any], field: str) -> None:
    expect(api, 422, field, "PATCH", "/configs/{cid}", body)


@pytest.mark.parametrize("name", ["nul\x00name", "bidi\u202eeman", "tab\tname", "zero\u200bwidth", "bell\x07"])
def test_control_and_bidi_characters_are_refused_in_config_names(api: Api, name: str) -> None:
    expect(api, 422, "name", "PATCH", "/configs/{cid}", {"name": name})
    expect(api, 422, "name", "POST", "/projects/{pid}/configs", {"template": "bert-tiny", "name": name})


# ---------------------------------------------------------------- shapes
def test_deeply_nested_json_is_a_422(api: Api) -> None:
    deep = b'{"name": "x", "description": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    expect(api, 422, "body", "POST", "/projects", raw=deep)
    nested_file = "a: " + "[" * 5000 + "]" * 5000
    expect(api, 422, "file", "POST", "/projects/{pid}/configs", {"file": nested_file})


def test_a_json_array_where_an_object_is_expected_creates_nothing(api: Api) -> None:
    _, before = api("GET", "/projects")
    expect(api, 422, "body", "POST", "/projects", [{"name": "arr"}])
    expect(api, 422, "body", "POST", "/projects", "just a string")
    _, after = api("GET", "/projects")
    assert after == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"path": "w.bin", "size": "10", "sha256": "a" * 64}, "size"),
        ({"path": "w.bin", "size": True, "sha256": "a" * 64}, "size"),
        ({"path": "w.bin", "size": 10.0, "sha256": "a" * 64}, "size"),
        ({"path": 7, "size": 10, "sha256": "a" * 64}, "path"),
    ],
)
def test_types_are_strict(api: Api, body: dict[str, Any], field: str) -> None:
    expect(api, 422, field, "POST", "/models/{mid}/uploads", body)


def test_strict_types_in_other_bodies(api: Api) -> None:
    expect(api, 422, "expected_version", "PATCH", "/configs/{cid}", {"name": "n", "expected_version": "1"})
    expect(api, 422, "batch_size", "POST", "/configs/{cid}/arch-test", {"batch_size": True})
    expect(api, 422, "description", "POST", "/projects", {"name": "p", "description": 5})


@pytest.mark.parametrize("media", ["text/plain", "application/x-www-form-urlencoded", "application/xml"])
def test_a_body_that_is_not_json_is_a_415_in_the_error_shape(api: Api, media: str) -> None:
    answer = expect(api, 415, "Content-Type", "POST", "/projects", raw=b"name=x", media=media)
    assert answer["error"] == "unsupported_media_type"


@pytest.mark.parametrize("method", ["TRACE", "OPTIONS", "PUT"])
def test_a_method_a_route_does_not_take_is_a_405_naming_the_allowed_ones(api: Api, method: str) -> None:
    from functions.api.handler import handler

    res = handler(proxy_event(method, "/projects", {}, b"", "alice"), _Context())
    body = json.loads(res["body"])
    assert res["statusCode"] == 405 and body["error"] == "method_not_allowed", body
    headers = {k.lower(): v for k, v in (res.get("headers") or {}).items()}
    multi = {k.lower(): v for k, v in (res.get("multiValueHeaders") or {}).items()}
    allow = headers.get("allow") or ",".join(multi.get("allow", []))
    assert {m.strip() for m in allow.split(",")} == {"GET", "POST", "HEAD"}
