"""What `tlm serve` answers for the browser UI's paths (tlm.web_static): index.html for / and the
client routes, hashed assets cached for good with their content types, nothing outside the
bundle, and a page that says how to build the UI when it is missing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tlm.web_static import CSP, IMMUTABLE, WebBundle, is_ui_path

pytestmark = pytest.mark.unit


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    root = tmp_path / "dist"
    (root / "assets").mkdir(parents=True)
    (root / "index.html").write_text("<!doctype html><div id=root></div>")
    (root / "assets" / "index-abc123.js").write_text("console.log(1)")
    (root / "assets" / "index-abc123.css").write_text("body{}")
    (root / "assets" / ".hidden").write_text("no")
    (root / "favicon.svg").write_text("<svg/>")
    (tmp_path / "secret.txt").write_text("outside")
    os.symlink(tmp_path / "secret.txt", root / "assets" / "link.js")
    return root


def headers(answer) -> dict[str, str]:
    return {k.decode(): v.decode() for k, v in answer.headers}


@pytest.mark.parametrize("path", ["/", "/ui", "/ui/", "/ui/projects", "/ui/models/abc/../x"])
def test_client_routes_answer_index_html_uncached_with_a_csp(dist: Path, path: str) -> None:
    a = WebBundle(dist).answer("GET", path)
    h = headers(a)
    assert (a.status, a.file) == (200, dist / "index.html")
    assert h["content-type"] == "text/html; charset=utf-8"
    assert h["cache-control"] == "no-cache" and h["content-security-policy"] == CSP
    assert h["x-content-type-options"] == "nosniff"


def test_assets_have_their_content_type_and_are_cached_for_good(dist: Path) -> None:
    bundle = WebBundle(dist)
    js, css = bundle.answer("GET", "/assets/index-abc123.js"), bundle.answer("HEAD", "/assets/index-abc123.css")
    assert headers(js)["content-type"] == "text/javascript; charset=utf-8"
    assert headers(css)["content-type"] == "text/css; charset=utf-8"
    assert headers(js)["cache-control"] == IMMUTABLE
    assert headers(js)["content-length"] == str(len("console.log(1)"))
    assert headers(bundle.answer("GET", "/favicon.svg"))["content-type"] == "image/svg+xml"


def test_an_unchanged_file_revalidates_with_304(dist: Path) -> None:
    bundle = WebBundle(dist)
    etag = headers(bundle.answer("GET", "/"))["etag"]
    again = bundle.answer("GET", "/", if_none_match=etag)
    assert again.status == 304 and again.file is None


@pytest.mark.parametrize(
    "path",
    [
        "/assets/../../secret.txt",
        "/assets/../index.html/../../secret.txt",
        "/assets/%2e%2e/secret.txt",
        "/assets/..\\..\\secret.txt",
        "/assets/link.js",  # a symlink pointing outside the bundle
        "/assets/.hidden",
        "/assets/",
        "/assets/missing.js",
        "/assets/index-abc123.js\x00.png",
        "/assets//etc/passwd",
    ],
)
def test_nothing_outside_the_bundle_is_served(dist: Path, path: str) -> None:
    a = WebBundle(dist).answer("GET", path)
    assert a.status == 404 and a.file is None
    assert b"outside" not in a.body


def test_only_get_and_head(dist: Path) -> None:
    a = WebBundle(dist).answer("POST", "/ui/projects")
    assert a.status == 405 and headers(a)["allow"] == "GET, HEAD"


def test_without_a_bundle_the_root_says_how_to_build_it(tmp_path: Path) -> None:
    a = WebBundle(tmp_path / "nothing").answer("GET", "/")
    assert a.status == 404 and b"make install" in a.body and b"npm ci --prefix web" in a.body
    assert headers(a)["content-type"].startswith("text/html")


def test_the_api_keeps_its_paths() -> None:
    assert all(is_ui_path(p) for p in ("/", "/ui", "/ui/runs/x", "/assets/a.js", "/favicon.svg"))
    assert not any(is_ui_path(p) for p in ("/projects", "/models", "/openapi.json", "/swagger", "/uix", "/health"))
