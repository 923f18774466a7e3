"""The local platform server: what ``make run`` / ``tlm serve`` starts.

- Every API request becomes an API Gateway REST proxy event and goes to the same Lambda
  handler as on AWS (functions.api.handler); the bearer token plays the Cognito authorizer.
- Signed part-upload URLs (PUT, streamed to disk) and blob downloads (GET/HEAD with Range)
  are served here, in the URL shape the S3 adapter gives presigned URLs.
- A background projector tails the SQLite log into the views; writes catch the views up before
  they answer (read-your-writes), and unreferenced blobs are reclaimed.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from domain.errors import DomainError
from tlm.auth import TokenBook

log = logging.getLogger("tlm.server")
_CHUNK = 1024 * 1024


class _Context:
    function_name = "tlm-local-api"
    memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:local:000000000000:function:tlm-local-api"
    aws_request_id = "local"

    def get_remaining_time_in_millis(self) -> int:
        return 300_000


def proxy_event(method: str, raw_path: str, headers: dict[str, str], body: bytes, user: str | None) -> dict[str, Any]:
    parts = urlsplit(raw_path)
    multi = parse_qs(parts.query, keep_blank_values=True)
    request_id = uuid.uuid4().hex
    ctx: dict[str, Any] = {
        "requestId": request_id,
        "httpMethod": method,
        "path": parts.path,
        "stage": "local",
        "identity": {"sourceIp": "127.0.0.1"},
    }
    if user:
        ctx["authorizer"] = {"claims": {"sub": user}}
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    return {
        "resource": parts.path,
        "path": parts.path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": {k: v[-1] for k, v in multi.items()} or None,
        "multiValueQueryStringParameters": multi or None,
        "pathParameters": None,
        "requestContext": ctx,
        "body": text if body else None,
        "isBase64Encoded": False,
    }


class LengthRequired(DomainError):
    status = 411
    code = "length_required"


def _parse_range(header: str, size: int) -> tuple[int, int] | None:
    """One ``bytes=a-b`` / ``a-`` / ``-n`` range -> inclusive (start, end); None if unparseable
    (the caller ignores the header), (-1, -1) if it parses but cannot be satisfied."""
    unit, _, spec = header.partition("=")
    first, sep, last = spec.strip().partition("-")
    if unit.strip().lower() != "bytes" or not sep or "," in spec:
        return None
    if not (first.isdigit() or first == "") or not (last.isdigit() or last == "") or first == last == "":
        return None
    if first == "":  # suffix: the last N bytes
        n = int(last)
        return (-1, -1) if n == 0 or size == 0 else (max(0, size - n), size - 1)
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if last and int(last) < start:
        return None
    return (-1, -1) if start >= size else (start, end)


class Handler(BaseHTTPRequestHandler):
    server: LocalServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        log.debug("%s " + format, self.address_string(), *args)

    # ---------------------------------------------------------------- helpers
    def _send_json(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _error(self, err: DomainError) -> None:
        # the request body may be unread: answer, then close the connection (and say so)
        self.close_connection = True
        self._send_json(err.status, err.to_dict(), {"Connection": "close"})

    def _user(self) -> str | None:
        auth = self.headers.get("Authorization", "")
        token = auth[7:].strip() if auth.lower().startswith("bearer ") else None
        return self.server.tokens.user_of(token)

    # ---------------------------------------------------------------- routing
    def do_GET(self) -> None:  # noqa: N802
        self._dispatch("GET")

    def do_HEAD(self) -> None:  # noqa: N802
        self._dispatch("HEAD")

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch("POST")

    def do_PUT(self) -> None:  # noqa: N802
        self._dispatch("PUT")

    def do_PATCH(self) -> None:  # noqa: N802
        self._dispatch("PATCH")

    def do_DELETE(self) -> None:  # noqa: N802
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        path = urlsplit(self.path).path
        try:
            if path.startswith("/uploads/"):
                self._put_part(method)
            elif path.startswith("/blobs/"):
                self._get_blob(method)
            else:
                self._api(method)
        except DomainError as err:
            self._error(err)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception:  # never a stack trace to the client
            log.exception("unhandled error on %s %s", method, path)
            self.close_connection = True
            self._send_json(
                500, {"error": "internal", "message": "internal error", "field": None}, {"Connection": "close"}
            )

    def _query(self) -> dict[str, str]:
        return {k: v[-1] for k, v in parse_qs(urlsplit(self.path).query, keep_blank_values=True).items()}

    def _length(self) -> int:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            raise LengthRequired("send a Content-Length (chunked bodies are not accepted)", field="Content-Length")
        try:
            n = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            n = -1
        if n < 0:
            from domain.errors import Invalid

            raise Invalid("bad Content-Length", field="Content-Length")
        return n

    def _body_chunks(self, length: int):  # type: ignore[no-untyped-def]
        left = length
        while left > 0:
            chunk = self.rfile.read(min(_CHUNK, left))
            if not chunk:
                from domain.errors import Invalid

                raise Invalid("request body ended early", field="body")
            left -= len(chunk)
            yield chunk

    def _put_part(self, method: str) -> None:
        from domain.errors import TooLarge

        blobs = self.server.container.blobs
        target = blobs.verify(method, urlsplit(self.path).path, self._query())
        length = self._length()
        if length > blobs.max_part_bytes:
            raise TooLarge(f"a part may hold at most {blobs.max_part_bytes} bytes", field="part")
        etag = blobs.upload_part(
            target.upload_id,
            target.part_number,
            self._body_chunks(length),
            checksum_crc32=self.headers.get("x-amz-checksum-crc32"),  # as S3 checks it on a part PUT
        )
        self.send_response(200)
        self.send_header("ETag", f'"{etag}"')
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _get_blob(self, method: str) -> None:
        from domain.errors import Invalid

        blobs = self.server.container.blobs
        target = blobs.verify(method, urlsplit(self.path).path, self._query())
        size = blobs.size(target.key)
        start, end, status = 0, size - 1, 200
        rng = self.headers.get("Range")
        if rng:
            parsed = _parse_range(rng, size)
            if parsed is None:  # not a single bytes range we understand: RFC 9110 says ignore it
                pass
            elif parsed == (-1, -1):  # well-formed but unsatisfiable
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{size}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            else:
                start, end = parsed
                status = 206
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("ETag", f'"{target.key.removeprefix("sha256/")}"')
        self.send_header("Content-Length", str(end - start + 1 if size else 0))
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        if target.filename:
            from urllib.parse import quote

            self.send_header("Content-Disposition", f"attachment; filename*=UTF-8''{quote(target.filename)}")
        self.end_headers()
        if method == "HEAD" or size == 0:
            return
        if not (0 <= start <= end):
            raise Invalid("bad range", field="Range")
        for chunk in blobs.open_range(target.key, start, end):
            self.wfile.write(chunk)

    def _api(self, method: str) -> None:
        from functions.api.handler import handler

        length = self._length()
        if length > self.server.max_api_body:
            from domain.errors import TooLarge

            raise TooLarge("API request bodies are limited to 6 MB (API Gateway's limit)", field="body")
        body = self.rfile.read(length) if length else b""
        headers = {k: v for k, v in self.headers.items() if k.lower() != "authorization"}
        event = proxy_event(method, self.path, headers, body, self._user())
        result = handler(event, _Context())
        if method not in ("GET", "HEAD"):
            try:  # read-your-writes; the write itself is committed, so never turn it into a 500
                self.server.container.catch_up()
            except Exception:
                log.exception("projection failed after %s %s; the background projector retries", method, self.path)
        status = int(result.get("statusCode", 200))
        payload = result.get("body") or ""
        if result.get("isBase64Encoded"):
            import base64

            data = base64.b64decode(payload)
        else:
            data = payload.encode() if isinstance(payload, str) else bytes(payload)
        self.send_response(status)
        sent = set()
        for k, v in (result.get("headers") or {}).items():
            self.send_header(k, str(v))
            sent.add(k.lower())
        for k, vs in (result.get("multiValueHeaders") or {}).items():
            if k.lower() not in sent:
                for v in vs:
                    self.send_header(k, str(v))
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if method != "HEAD":
            self.wfile.write(data)


class LocalServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    max_api_body = 6 * 1024 * 1024

    def __init__(self, container: Any, host: str, port: int) -> None:
        self.container = container
        self.tokens = TokenBook(container.settings.data_dir)
        super().__init__((host, port), Handler)
        self._stop = threading.Event()
        self._gc_thread: threading.Thread | None = None

    def start_background(self) -> None:
        self.container.catch_up()
        self.container.projector.start()
        # after a crash: settle jobs whose process is gone, then drive unfinished workflow runs on
        # (a run re-attaches to its job or fails it as lost; none stays "running")
        self.container.jobs.reconcile()
        resumed = self.container.workflows.resume_incomplete()
        if resumed:
            log.warning("resumed %d unfinished workflow run(s): %s", len(resumed), ", ".join(resumed))
        self._gc_thread = threading.Thread(target=self._gc_loop, name="tlm-gc", daemon=True)
        self._gc_thread.start()

    def _gc_loop(self) -> None:
        while not self._stop.wait(30.0):
            try:
                self.container.catch_up()
                self.container.library.collect_garbage()
            except Exception:
                log.exception("blob garbage collection failed")


def serve(host: str | None = None, port: int | None = None, *, ready: threading.Event | None = None) -> None:
    from runtime.bootstrap import build, set_container
    from runtime.settings import Settings

    overrides: dict[str, Any] = {}
    if host:
        overrides["host"] = host
    if port is not None:
        overrides["port"] = port
    settings = Settings(**overrides)
    container = build(settings)
    if settings.backend != "local":
        raise SystemExit("tlm serve runs the local platform (TLM_BACKEND=local)")
    set_container(container)
    srv = LocalServer(container, settings.host, settings.port)
    token = srv.tokens.ensure_default()
    srv.start_background()
    print(f"TLM local platform on {settings.base_url}  (data: {settings.data_dir.resolve()})", flush=True)
    print(f"  API docs: {settings.base_url}/swagger   health: {settings.base_url}/health", flush=True)
    print(f"  token for user 'local' in {srv.tokens.token_file} (tlm CLI reads it): {token[:8]}...", flush=True)
    if ready is not None:
        ready.set()
    import signal

    def _term(*_: Any) -> None:
        raise KeyboardInterrupt

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _term)
    try:
        srv.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        srv._stop.set()
        srv.server_close()
        container.close()
