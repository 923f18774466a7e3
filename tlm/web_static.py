"""The browser UI's built bundle (``web/dist``, built by ``make``), served by ``tlm serve`` on the
API's origin.

- ``/`` and every client route under ``/ui/`` answer ``index.html`` (the app routes in the
  browser); client routes live under ``/ui/`` because the API owns ``/projects``, ``/models``...
- ``/assets/<file>`` are Vite's content-hashed files: cached for a year, ``immutable``.
  ``index.html`` is ``no-cache`` (revalidated with its ETag), so a rebuilt UI is seen at once.
- Only regular files inside the bundle directory are served: the path is resolved (symlinks
  followed) and must stay under the root; ``..``, backslashes, NUL and dot-files are refused.
- ``/config.json`` (from ``web/public``) tells the SPA how to sign in: here with a token; the AWS
  web stack deploys one naming Cognito. ``no-cache``, like ``index.html``.
- Without a built bundle, ``/`` answers a page that says how to build it.

The directory is ``TLM_WEB_DIST`` if set, else ``web/dist`` next to the ``tlm`` package.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from runtime.web_ui import CSP, ROOT_FILES  # shared with the AWS web stack (infra/web_bundle.py)

__all__ = ["CSP", "ROOT_FILES"]
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".woff2": "font/woff2",
    ".woff": "font/woff",
    ".json": "application/json",
    ".map": "application/json",
    ".txt": "text/plain; charset=utf-8",
    ".wasm": "application/wasm",
}
IMMUTABLE = "public, max-age=31536000, immutable"
# the app loads only its own scripts; inline styles are what React Flow and plotly set on elements
SECURITY_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
)

MISSING_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>TLM: the browser UI is not built</title></head>
<body style="font-family: system-ui, 'Noto Sans CJK SC', sans-serif; max-width: 44em; margin: 3em auto">
<h1>The browser UI is not built</h1>
<p>Build it once with <code>make install</code> (or
<code>npm ci --prefix web &amp;&amp; npm run build --prefix web</code> after
<code>python -m functions.api.openapi_dump web/openapi.json</code>), then reload this page.
The API itself is running: <a href="/swagger">/swagger</a>, <a href="/openapi.json">/openapi.json</a>.</p>
<p lang="zh-CN">浏览器界面尚未构建：请先运行 <code>make install</code>，然后刷新本页。</p>
<p>Looked in: <code>{root}</code></p>
</body></html>
"""


@dataclass(frozen=True)
class StaticAnswer:
    status: int
    headers: list[tuple[bytes, bytes]]
    file: Path | None = None  # the body, streamed by the server; None: ``body``
    body: bytes = b""


def default_root() -> Path:
    env = os.environ.get("TLM_WEB_DIST")
    return Path(env) if env else Path(__file__).resolve().parent.parent / "web" / "dist"


def is_ui_path(path: str) -> bool:
    """The paths the bundle owns (everything else is the API's)."""
    return (
        path == "/"
        or path == "/ui"
        or path.startswith("/ui/")
        or path.startswith("/assets/")
        or path.lstrip("/") in ROOT_FILES
    )


@dataclass
class WebBundle:
    root: Path = field(default_factory=default_root)

    def answer(self, method: str, path: str, if_none_match: str | None = None) -> StaticAnswer:
        if method not in ("GET", "HEAD"):
            return self._text(405, "method not allowed", extra=[(b"allow", b"GET, HEAD")])
        root = self.root.resolve()
        index = root / "index.html"
        if path.startswith("/assets/") or path.lstrip("/") in ROOT_FILES:
            target = self._inside(root, path.lstrip("/"))
            if target is None:
                return self._text(404, "not found")
            cache = IMMUTABLE if path.startswith("/assets/") else "public, max-age=3600"
            cache = "no-cache" if path == "/config.json" else cache
            return self._file(target, cache, if_none_match)
        if not index.is_file():
            page = MISSING_PAGE.replace("{root}", str(root)).encode()
            headers = [(b"content-type", b"text/html; charset=utf-8"), (b"cache-control", b"no-store")]
            headers += [*SECURITY_HEADERS, (b"content-length", str(len(page)).encode())]
            return StaticAnswer(404, headers, body=page)
        answer = self._file(index, "no-cache", if_none_match)
        answer.headers.append((b"content-security-policy", CSP.encode()))
        return answer

    @staticmethod
    def _inside(root: Path, rel: str) -> Path | None:
        parts = rel.split("/")
        if not rel or "\\" in rel or "\x00" in rel or any(p in ("", ".", "..") or p.startswith(".") for p in parts):
            return None
        try:
            target = (root / rel).resolve()
        except (OSError, RuntimeError):
            return None
        if not target.is_relative_to(root) or not target.is_file():
            return None
        return target

    def _file(self, target: Path, cache: str, if_none_match: str | None) -> StaticAnswer:
        st = target.stat()
        etag = '"' + hashlib.sha256(f"{target.name}:{st.st_size}:{st.st_mtime_ns}".encode()).hexdigest()[:20] + '"'
        ctype = CONTENT_TYPES.get(target.suffix.lower(), "application/octet-stream")
        headers = [
            (b"content-type", ctype.encode()),
            (b"cache-control", cache.encode()),
            (b"etag", etag.encode()),
            *SECURITY_HEADERS,
        ]
        if if_none_match and etag in [t.strip() for t in if_none_match.split(",")]:
            return StaticAnswer(304, [*headers, (b"content-length", b"0")])
        return StaticAnswer(200, [*headers, (b"content-length", str(st.st_size).encode())], file=target)

    @staticmethod
    def _text(status: int, message: str, extra: list[tuple[bytes, bytes]] | None = None) -> StaticAnswer:
        body = json.dumps({"error": message.replace(" ", "_"), "message": message, "field": "path"}).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        headers += SECURITY_HEADERS
        return StaticAnswer(status, [*headers, *(extra or [])], body=body)
