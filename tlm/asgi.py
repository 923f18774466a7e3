"""The local platform as an ASGI app (served by uvicorn, see ``tlm.server``).

- API requests become an API Gateway REST proxy event for the same Lambda handler as on AWS
  (``functions.api.handler``); the bearer token plays the Cognito authorizer.
- Signed part uploads (PUT, streamed to disk as the bytes arrive) and blob downloads
  (GET/HEAD with Range, streamed from disk) are served here, in the URL shape the S3 adapter
  gives presigned URLs.
- Before any body is read: at most ``max_headers`` header lines (431), a ``Content-Length`` that is
  the only framing (``Transfer-Encoding`` is refused: 411 alone, 400 together with a length), and
  a body size limit (413). Every error is the API's ``{"error", "message", "field"}``.
- One access-log line per request: method, path, status, duration, user, request id (also sent
  back as ``X-Request-Id``).

Blocking work (the handler, SQLite, file I/O) runs on a thread pool; the event loop only moves
bytes, so slow clients cost a socket, not a thread.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import parse_qs, quote

from domain.errors import DomainError, Invalid, TooLarge
from tlm.web_static import is_ui_path

log = logging.getLogger("tlm.server")
access_log = logging.getLogger("tlm.access")

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


class LengthRequired(DomainError):
    status = 411
    code = "length_required"


class HeadersTooLarge(DomainError):
    status = 431
    code = "headers_too_large"


class ClientGone(Exception):  # noqa: N818 - not an error to answer: nobody is listening
    """The client disconnected (or was timed out) before its request body arrived."""


class _Context:
    function_name = "tlm-local-api"
    memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:local:000000000000:function:tlm-local-api"
    aws_request_id = "local"

    def get_remaining_time_in_millis(self) -> int:
        return 300_000


def proxy_event(
    method: str,
    raw_path: str,
    headers: dict[str, str],
    body: bytes,
    user: str | None,
    request_id: str | None = None,
) -> dict[str, Any]:
    path, _, query = raw_path.partition("?")
    multi = parse_qs(query, keep_blank_values=True)
    ctx: dict[str, Any] = {
        "requestId": request_id or uuid.uuid4().hex,
        "httpMethod": method,
        "path": path,
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
        "resource": path,
        "path": path,
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


def parse_range(header: str, size: int) -> tuple[int, int] | None:
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


class Request:
    """What the app reads from an ASGI scope, decoded once."""

    def __init__(self, scope: Scope) -> None:
        self.method: str = scope["method"]
        self.path: str = scope["path"]
        query = scope.get("query_string", b"").decode("latin-1")
        self.raw_target = self.path + (f"?{query}" if query else "")
        self.query = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
        self.header_lines: list[tuple[bytes, bytes]] = scope.get("headers", [])
        self.headers: dict[str, str] = {}
        for k, v in self.header_lines:  # repeated headers: comma-joined, as API Gateway does
            name = k.decode("latin-1").title()
            value = v.decode("latin-1")
            self.headers[name] = f"{self.headers[name]},{value}" if name in self.headers else value

    def header(self, name: str) -> str | None:
        return self.headers.get(name.title())

    def token(self) -> str | None:
        auth = self.header("Authorization") or ""
        return auth[7:].strip() if auth.lower().startswith("bearer ") else None


class PlatformApp:
    def __init__(
        self,
        container: Any,
        tokens: Any,
        *,
        max_headers: int = 100,
        max_header_bytes: int = 32 * 1024,
        max_api_body: int = 6 * 1024 * 1024,
        workers: int = 64,
        drain_limit: int = 256 * 1024 * 1024,
        web: Any = None,
    ) -> None:
        self.drain_limit = drain_limit
        self.web = web  # tlm.web_static.WebBundle: the browser UI at / (None: API only)
        self.container = container
        self.tokens = tokens
        self.max_headers = max_headers
        self.max_header_bytes = max_header_bytes
        self.max_api_body = max_api_body
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="tlm-http")

    async def _run(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self.pool, fn, *args)

    # ---------------------------------------------------------------- entry
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        started = time.perf_counter()
        req = Request(scope)
        request_id = uuid.uuid4().hex
        sent: dict[str, Any] = {"status": None, "user": None}

        async def send_tracked(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                sent["status"] = message["status"]
                message = {**message, "headers": [*message.get("headers", []), (b"x-request-id", request_id.encode())]}
            await send(message)

        body_state = {"done": False}

        async def receive_tracked() -> dict[str, Any]:
            message = await receive()
            if message["type"] == "http.disconnect" or not message.get("more_body", False):
                body_state["done"] = True
            return message

        async def drain() -> None:
            """Read and drop an unread body before an early answer, so closing the socket does not
            reset the connection under the client's feet (it would lose our answer). Bounded: past
            ``drain_limit`` bytes we answer anyway."""
            left = self.drain_limit
            while not body_state["done"] and left > 0:
                try:  # a client that sends nothing more gets its answer after a short pause
                    message = await asyncio.wait_for(receive_tracked(), timeout=0.5)
                except TimeoutError:
                    return
                left -= len(message.get("body", b""))

        try:
            await self._dispatch(req, receive_tracked, send_tracked, request_id, sent)
        except ClientGone:
            sent["status"] = sent["status"] or 499  # nginx's "client closed request", for the log only
        except DomainError as err:
            await drain()
            await self._send_error(send_tracked, sent, err)
        except Exception:  # never a stack trace to the client
            log.exception("unhandled error on %s %s", req.method, req.path)
            await drain()
            await self._send_error(send_tracked, sent, None)
        finally:
            access_log.info(
                "%s %s %s %.1fms user=%s request_id=%s",
                req.method, req.path, sent["status"], (time.perf_counter() - started) * 1000,
                sent["user"] or "-", request_id,
            )  # fmt: skip

    async def _send_error(self, send: Send, sent: dict[str, Any], err: DomainError | None) -> None:
        if sent["status"] is not None:  # the response had started: all we can do is stop
            return
        status = err.status if err is not None else 500
        body = err.to_dict() if err is not None else {"error": "internal", "message": "internal error", "field": None}
        # the request body may be unread: answer, then close the connection (and say so)
        await self._send_json(send, status, body, close=True)

    @staticmethod
    async def _send_json(send: Send, status: int, body: dict[str, Any], *, close: bool = False) -> None:
        data = json.dumps(body, ensure_ascii=False).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
        if close:
            headers.append((b"connection", b"close"))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": data})

    async def _dispatch(
        self, req: Request, receive: Receive, send: Send, request_id: str, sent: dict[str, Any]
    ) -> None:
        if len(req.header_lines) > self.max_headers:
            raise HeadersTooLarge(f"at most {self.max_headers} header lines", field="headers")
        # h11 bounds a head that arrives in pieces; one that arrives whole is measured here
        if sum(len(k) + len(v) + 4 for k, v in req.header_lines) > self.max_header_bytes:
            raise HeadersTooLarge(f"request headers are limited to {self.max_header_bytes} bytes", field="headers")
        if req.path.startswith("/uploads/"):
            await self._put_part(req, receive, send)
        elif req.path.startswith("/blobs/"):
            await self._get_blob(req, send)
        elif self.web is not None and is_ui_path(req.path):
            await self._static(req, send)
        else:
            sent["user"] = await self._run(self.tokens.user_of, req.token())
            await self._api(req, receive, send, request_id, sent["user"])

    # ---------------------------------------------------------------- bodies
    def _length(self, req: Request) -> int:
        """The body's length, from the one Content-Length h11 let through (h11 already refused
        conflicting or non-digit ones). Transfer-Encoding is not accepted at all."""
        te, cl = req.header("Transfer-Encoding"), req.header("Content-Length")
        if te is not None:
            if cl is not None:
                raise DomainError(
                    "Transfer-Encoding and Content-Length together are ambiguous", field="Transfer-Encoding"
                )
            raise LengthRequired("send a Content-Length (chunked bodies are not accepted)", field="Content-Length")
        return int(cl) if cl is not None else 0

    @staticmethod
    async def _read(receive: Receive) -> tuple[bytes, bool]:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone()
        return message.get("body", b""), message.get("more_body", False)

    async def _body(self, req: Request, receive: Receive, limit: int, field: str) -> bytes:
        length = self._length(req)
        if length > limit:
            raise TooLarge(f"request bodies here are limited to {limit} bytes", field=field)
        chunks, more = [], length > 0
        while more:
            chunk, more = await self._read(receive)
            chunks.append(chunk)
        return b"".join(chunks)

    # ---------------------------------------------------------------- API
    async def _api(self, req: Request, receive: Receive, send: Send, request_id: str, user: str | None) -> None:
        body = await self._body(req, receive, self.max_api_body, "body")
        # HEAD is GET without the body (RFC 9110), so every GET route answers HEAD too
        method = "GET" if req.method == "HEAD" else req.method
        result = await self._run(self._call_api, method, req, body, user, request_id)
        status = int(result.get("statusCode", 200))
        payload = result.get("body") or ""
        if result.get("isBase64Encoded"):
            data = base64.b64decode(payload)
        else:
            data = payload.encode() if isinstance(payload, str) else bytes(payload)
        headers: list[tuple[bytes, bytes]] = []
        seen = set()
        for k, v in (result.get("headers") or {}).items():
            if k.lower() != "content-length":
                headers.append((k.encode("latin-1"), str(v).encode("latin-1")))
                seen.add(k.lower())
        for k, vs in (result.get("multiValueHeaders") or {}).items():
            if k.lower() not in seen and k.lower() != "content-length":
                headers.extend((k.encode("latin-1"), str(v).encode("latin-1")) for v in vs)
        headers.append((b"content-length", str(len(data)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if req.method == "HEAD" else data})

    def _call_api(self, method: str, req: Request, body: bytes, user: str | None, request_id: str) -> dict[str, Any]:
        from functions.api.handler import handler

        headers = {k: v for k, v in req.headers.items() if k.lower() != "authorization"}
        event = proxy_event(method, req.raw_target, headers, body, user, request_id)
        result: dict[str, Any] = handler(event, _Context())
        if method not in ("GET", "HEAD"):
            try:  # read-your-writes; the write itself is committed, so never turn it into a 500
                self.container.catch_up()
            except Exception:
                log.exception("projection failed after %s %s; the background projector retries", method, req.path)
        return result

    # ---------------------------------------------------------------- the browser UI
    async def _static(self, req: Request, send: Send) -> None:
        answer = await self._run(self.web.answer, req.method, req.path, req.header("If-None-Match"))
        await send({"type": "http.response.start", "status": answer.status, "headers": answer.headers})
        if req.method == "HEAD" or answer.status == 304 or answer.file is None:
            await send({"type": "http.response.body", "body": b"" if req.method == "HEAD" else answer.body})
            return
        f = await self._run(open, answer.file, "rb")
        try:
            while chunk := await self._run(f.read, 256 * 1024):
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        finally:
            f.close()
        await send({"type": "http.response.body", "body": b""})

    # ---------------------------------------------------------------- parts and blobs
    async def _put_part(self, req: Request, receive: Receive, send: Send) -> None:
        blobs = self.container.blobs
        target = await self._run(blobs.verify, req.method, req.path, req.query)
        length = self._length(req)
        if length > blobs.max_part_bytes:
            raise TooLarge(f"a part may hold at most {blobs.max_part_bytes} bytes", field="part")
        loop = asyncio.get_running_loop()

        def chunks() -> Iterator[bytes]:  # runs on the pool thread: pulls bytes off the event loop
            left = length
            while left > 0:
                try:
                    chunk, more = asyncio.run_coroutine_threadsafe(self._read(receive), loop).result()
                except ClientGone:
                    raise Invalid("request body ended early", field="body") from None
                if not chunk and not more:
                    raise Invalid("request body ended early", field="body")
                left -= len(chunk)
                yield chunk

        etag = await self._run(
            lambda: blobs.upload_part(
                target.upload_id, target.part_number, chunks(),
                checksum_crc32=req.header("x-amz-checksum-crc32"),  # as S3 checks it on a part PUT
            )
        )  # fmt: skip
        headers = [(b"etag", f'"{etag}"'.encode()), (b"content-length", b"0")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b""})

    async def _get_blob(self, req: Request, send: Send) -> None:
        blobs = self.container.blobs
        target = await self._run(blobs.verify, req.method, req.path, req.query)
        size = await self._run(blobs.size, target.key)
        start, end, status = 0, size - 1, 200
        rng = req.header("Range")
        if rng:
            parsed = parse_range(rng, size)
            if parsed == (-1, -1):  # well-formed but unsatisfiable
                headers = [(b"content-range", f"bytes */{size}".encode()), (b"content-length", b"0")]
                await send({"type": "http.response.start", "status": 416, "headers": headers})
                await send({"type": "http.response.body", "body": b""})
                return
            if parsed is not None:  # None: not a single bytes range we understand; RFC 9110 says ignore it
                start, end = parsed
                status = 206
        headers = [
            (b"content-type", b"application/octet-stream"),
            (b"accept-ranges", b"bytes"),
            (b"etag", f'"{target.key.removeprefix("sha256/")}"'.encode()),
            (b"content-length", str(end - start + 1 if size else 0).encode()),
        ]
        if status == 206:
            headers.append((b"content-range", f"bytes {start}-{end}/{size}".encode()))
        if target.filename:
            headers.append((b"content-disposition", f"attachment; filename*=UTF-8''{quote(target.filename)}".encode()))
        if req.method != "HEAD" and size > 0 and not (0 <= start <= end):
            raise Invalid("bad range", field="Range")
        await send({"type": "http.response.start", "status": status, "headers": headers})
        if req.method == "HEAD" or size == 0:
            await send({"type": "http.response.body", "body": b""})
            return
        chunks = await self._run(blobs.open_range, target.key, start, end)
        done = object()
        while (chunk := await self._run(next, chunks, done)) is not done:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
