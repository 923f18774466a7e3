"""The local server against slow, malformed and hostile HTTP clients (issue 11 item 1), over raw
sockets: timeouts close what never completes while /health keeps answering, framing is never
ambiguous, every refusal is JSON in the error shape, shutdown lets in-flight requests finish."""

from __future__ import annotations

import json
import os
import re
import selectors
import signal
import socket
import statistics
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import Platform

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

HEADER_TIMEOUT, READ_TIMEOUT, IDLE_TIMEOUT = 1.5, 1.5, 1.0


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    tmp = Path(tmp_path_factory.mktemp("hardening"))
    env = {
        **os.environ,
        "TLM_DATA_DIR": str(tmp / "data"),
        "TLM_JIEBA_CACHE_DIR": str(tmp / "jieba"),
        "TLM_MIN_PART_BYTES": "1",
        "TLM_SERVER_HEADER_TIMEOUT": str(HEADER_TIMEOUT),
        "TLM_SERVER_READ_TIMEOUT": str(READ_TIMEOUT),
        "TLM_SERVER_IDLE_TIMEOUT": str(IDLE_TIMEOUT),
        "TLM_SERVER_GRACEFUL_TIMEOUT": "20",
        "TLM_SERVER_MAX_HEADER_BYTES": "8192",
        "TLM_SERVER_MAX_HEADERS": "50",
        "PYTHONUNBUFFERED": "1",
    }
    p = Platform(tmp / "data", env)
    p.start()
    yield p
    p.stop()


def connect(p: Platform) -> socket.socket:
    return socket.create_connection(("127.0.0.1", p.port), timeout=10)


def exchange(p: Platform, raw: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send raw bytes, read one response (the server closes or gives Content-Length)."""
    with connect(p) as s:
        s.sendall(raw)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}
        want = int(headers.get("content-length", "0"))
        while len(body) < want:
            chunk = s.recv(65536)
            if not chunk:
                break
            body += chunk
        return status, headers, body


def error_of(body: bytes) -> dict[str, object]:
    doc = json.loads(body)
    assert set(doc) >= {"error", "message", "field"}, doc
    return doc


def test_idle_and_half_sent_connections_are_closed_while_health_answers_fast(server: Platform) -> None:
    # Given 300 connections that send nothing and 50 that send half a request
    # (25 stop inside the head, 25 inside a body they announced)
    idle = [connect(server) for _ in range(300)]
    half = [connect(server) for _ in range(50)]
    for i, s in enumerate(half):
        if i % 2:
            s.sendall(b"POST /projects HTTP/1.1\r\nHost: x\r\nContent-Le")
        else:
            s.sendall(
                b"POST /projects HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"
            )
    opened = time.monotonic()
    sel = selectors.DefaultSelector()
    for s in idle + half:
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
    # When we wait, asking /health on a fresh connection every 50 ms meanwhile
    closed_at: dict[socket.socket, float] = {}
    latencies: list[float] = []
    deadline = opened + max(HEADER_TIMEOUT, READ_TIMEOUT, IDLE_TIMEOUT) + 15  # generous
    next_probe = opened
    with httpx.Client(timeout=5) as http:
        while time.monotonic() < deadline and (
            len(closed_at) < len(idle) + len(half) or time.monotonic() - opened < 2 * HEADER_TIMEOUT
        ):
            for key, _ in sel.select(timeout=0.05):
                s = key.fileobj
                try:
                    gone = s.recv(4096) == b""  # type: ignore[union-attr]
                except (ConnectionResetError, BlockingIOError):
                    gone = True
                if gone:
                    closed_at[s] = time.monotonic() - opened  # type: ignore[index]
                    sel.unregister(s)
            if time.monotonic() >= next_probe:
                t0 = time.perf_counter()
                assert http.get(f"{server.url}/health", headers={"Connection": "close"}).status_code == 200
                latencies.append(time.perf_counter() - t0)
                next_probe = time.monotonic() + 0.05
    for s in idle + half:
        s.close()
    # Then the server closed every one of them, none much before its timeout
    assert len(closed_at) == 350, f"{350 - len(closed_at)} connections still open"
    assert min(closed_at[s] for s in idle) >= IDLE_TIMEOUT * 0.8
    assert min(closed_at[s] for s in half) >= min(HEADER_TIMEOUT, READ_TIMEOUT) * 0.8
    # and /health kept answering in well under 100 ms
    assert len(latencies) >= 10
    assert statistics.median(latencies) < 0.1, latencies
    assert sorted(latencies)[int(len(latencies) * 0.9)] < 0.1, latencies


def test_a_slow_loris_trickling_its_head_is_cut_off_at_the_header_timeout(server: Platform) -> None:
    with connect(server) as s:
        started = time.monotonic()
        s.sendall(b"GET /health HTTP/1.1\r\n")
        closed = False
        while time.monotonic() - started < HEADER_TIMEOUT + 10:
            try:
                s.sendall(b"X-Slow: 1\r\n")  # a header line every 0.2 s: never idle, never done
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
            time.sleep(0.2)
        assert closed
        assert time.monotonic() - started < HEADER_TIMEOUT + 5


@pytest.mark.parametrize(
    ("head", "status", "field"),
    [
        (b"Content-Length: 5\r\nContent-Length: 7\r\n", 400, "Content-Length"),
        (b"Content-Length: 5, 7\r\n", 400, "Content-Length"),
        (b"Content-Length: abc\r\n", 400, "Content-Length"),
        (b"Content-Length: -1\r\n", 400, "Content-Length"),
        (b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n", 400, "Transfer-Encoding"),
        (b"Transfer-Encoding: gzip\r\n", 501, "Transfer-Encoding"),
        (b"Transfer-Encoding: chunked\r\n", 411, "Content-Length"),
    ],
)
def test_request_framing_is_never_ambiguous(server: Platform, head: bytes, status: int, field: str) -> None:
    body = b"0\r\n\r\n" if b"chunked" in head else b"abcde"
    got, headers, raw = exchange(
        server, b"POST /projects HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" + head + b"\r\n" + body
    )
    assert got == status, raw
    assert headers["content-type"].startswith("application/json")
    assert error_of(raw)["field"] == field


def test_header_limits_answer_431_in_json(server: Platform) -> None:
    big = b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n"
    status, _, raw = exchange(server, big)
    assert status == 431 and error_of(raw)["field"] == "headers"
    many = b"GET /health HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-H%d: 1\r\n" % i for i in range(60)) + b"\r\n"
    status, _, raw = exchange(server, many)
    assert status == 431 and error_of(raw)["field"] == "headers"


def test_an_oversized_api_body_is_a_413_before_it_is_read(server: Platform) -> None:
    status, _, raw = exchange(
        server,
        b"POST /projects HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 7000000\r\n\r\n",
    )
    assert status == 413 and error_of(raw)["field"] == "body"


@pytest.mark.parametrize("method", [b"TRACE", b"OPTIONS", b"DELETE"])
def test_methods_a_route_does_not_take_are_405_in_json(server: Platform, method: bytes) -> None:
    status, headers, raw = exchange(server, method + b" /health HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status == 405 and error_of(raw)["error"] == "method_not_allowed"
    assert set(headers["allow"].replace(" ", "").split(",")) == {"GET", "HEAD"}


def test_the_access_log_names_method_path_status_duration_user_and_request_id(server: Platform) -> None:
    with server.http() as http:
        r = http.get("/me")
    rid = r.headers["x-request-id"]
    deadline = time.time() + 5
    while time.time() < deadline and rid not in server.log.read_text():
        time.sleep(0.05)
    line = next(ln for ln in server.log.read_text().splitlines() if rid in ln)
    assert re.search(rf"tlm\.access GET /me 200 \d+\.\dms user=local request_id={rid}$", line), line


def test_shutdown_lets_an_in_flight_upload_finish(server: Platform) -> None:
    # Given a part upload whose body is half sent
    with server.http() as http:
        pid = http.post("/projects", json={"name": "shutdown"}).json()["project_id"]
        mid = http.post(f"/projects/{pid}/models", json={"name": "m", "family": "bert"}).json()["model_id"]
        data = os.urandom(200_000)
        import hashlib

        up = http.post(
            f"/models/{mid}/uploads",
            json={"path": "w.bin", "size": len(data), "sha256": hashlib.sha256(data).hexdigest()},
        ).json()
    url = httpx.URL(up["parts"][0]["url"])
    s = connect(server)
    target = url.raw_path
    s.sendall(b"PUT " + target + b" HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(data) + data[:100_000])
    time.sleep(0.3)
    # When the server is told to stop
    assert server.proc is not None
    server.proc.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    # Then new connections are refused, the upload still completes, and the server exits cleanly
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", server.port), timeout=2).close()
    s.sendall(data[100_000:])
    s.settimeout(10)
    answer = s.recv(65536)
    s.close()
    assert answer.startswith(b"HTTP/1.1 200"), answer
    assert server.proc.wait(timeout=30) == 0
