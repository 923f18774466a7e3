"""The built bundle as `tlm serve` sends it over HTTP (same origin as the API), and what it holds:
no secrets."""

from __future__ import annotations

import re
import socket

import pytest

from tests.browser.conftest import DIST
from tests.e2e.conftest import Platform

pytestmark = pytest.mark.browser


def raw_get(p: Platform, target: str) -> bytes:
    """A request line sent as is (clients normalise ``..`` away; an attacker does not)."""
    with socket.create_connection(("127.0.0.1", p.port), timeout=10) as s:
        s.sendall(f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        out = b""
        while chunk := s.recv(65536):
            out += chunk
    return out


def test_routes_assets_and_the_api_share_the_origin(ui_platform: Platform) -> None:
    with ui_platform.http(token="") as http:
        index = http.get("/ui/library")
        assert index.status_code == 200 and index.headers["content-type"] == "text/html; charset=utf-8"
        script = re.search(r'src="(/assets/[^"]+\.js)"', index.text)
        assert script, index.text
        asset = http.get(script.group(1))
        assert asset.status_code == 200 and asset.headers["content-type"].startswith("text/javascript")
        assert "immutable" in asset.headers["cache-control"]
        assert http.get("/projects").status_code == 401  # still the API, not the app
        assert http.get("/openapi.json").headers["content-type"].startswith("application/json")


ESCAPES = ["/assets/../../pyproject.toml", "/assets/%2e%2e/%2e%2e/pyproject.toml", "/assets/..%2f..%2fpyproject.toml",
           "/favicon.svg/../../pyproject.toml", "/ui/../pyproject.toml"]  # fmt: skip
SECRETS = [re.compile(p) for p in (rb"tlm_[A-Za-z0-9_-]{30,}", rb"AKIA[0-9A-Z]{16}", rb"-----BEGIN [A-Z ]*PRIVATE KEY")]


@pytest.mark.parametrize("target", ESCAPES)
def test_no_path_leaves_the_bundle(ui_platform: Platform, target: str) -> None:
    answer = raw_get(ui_platform, target)
    status = answer.split(b" ", 2)[1]
    assert b"[project]" not in answer, answer[:300]
    # a refusal, or (under /ui/) the app's index.html: a client route, never the file
    assert status in (b"404", b"400") or (status == b"200" and b'<div id="root">' in answer), answer[:300]


def test_the_bundle_holds_no_secrets(ui_platform: Platform) -> None:
    token = ui_platform.token
    files = [f for f in DIST.rglob("*") if f.is_file()]
    assert files
    for f in files:
        data = f.read_bytes()
        assert token.encode() not in data, f
        assert not any(p.search(data) for p in SECRETS), f
