"""HTTP to one local serving process (``jobs.serve``): ping, invocations, Prometheus metrics.

Standard library client (this is the caller's side; the server is uvicorn)."""

from __future__ import annotations

import http.client
import json
import re
import socket
import threading
from collections.abc import Sequence
from typing import Any

from domain.errors import Invalid, TooLarge, Unavailable
from runtime.ports import Prediction, ServingMetrics

_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{quantile="([0-9.]+)"\})?\s+(\S+)$')


_local = threading.local()  # one keep-alive connection per thread and port


def _request(port: int, method: str, path: str, body: bytes | None, timeout: float) -> tuple[int, bytes]:
    conns: dict[int, http.client.HTTPConnection] = _local.__dict__.setdefault("conns", {})
    headers = {"Content-Type": "application/json"} if body is not None else {}
    for attempt in (0, 1):
        conn = conns.get(port)
        fresh = conn is None
        if conn is None:
            conn = conns[port] = _connect(port, timeout)
        conn.timeout = timeout
        if conn.sock is not None:
            conn.sock.settimeout(timeout)
        try:
            conn.request(method, path, body=body, headers=headers)
            resp = conn.getresponse()
            return resp.status, resp.read()
        except (OSError, http.client.HTTPException) as e:
            conn.close()
            conns.pop(port, None)
            # a kept-alive connection the server closed meanwhile: retry once on a fresh one
            if fresh or attempt == 1 or not isinstance(e, _STALE):
                raise OSError(f"{type(e).__name__}: {e}") from e
    raise AssertionError("unreachable")


def _connect(port: int, timeout: float) -> http.client.HTTPConnection:
    """A connection with Nagle off: http.client writes the head and the body separately, and
    with Nagle on the body waits for the delayed ACK of the head (~40 ms per request)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    conn.connect()
    assert conn.sock is not None
    conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return conn


_STALE = (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError)


def ping(port: int, timeout: float = 1.0) -> bool:
    try:
        status, _ = _request(port, "GET", "/ping", None, timeout)
    except OSError:
        return False
    return status == 200


def invoke(port: int, texts: Sequence[str], timeout: float) -> list[Prediction]:
    body = json.dumps({"texts": list(texts)}, ensure_ascii=False).encode()
    try:
        status, raw = _request(port, "POST", "/invocations", body, timeout)
    except OSError as e:
        raise Unavailable(f"the serving process did not answer: {e}", field="slot") from None
    doc: Any = _json(raw)
    if status == 200 and isinstance(doc, dict) and isinstance(doc.get("predictions"), list):
        return [Prediction(p["label"], float(p["score"]), {k: float(v) for k, v in p["scores"].items()})
                for p in doc["predictions"]]
    message = doc.get("message") if isinstance(doc, dict) else raw[:200].decode("utf-8", "replace")
    field = doc.get("field") if isinstance(doc, dict) else None
    if status == 413:
        raise TooLarge(str(message), field=str(field or "texts"))
    if 400 <= status < 500:
        raise Invalid(str(message), field=str(field or "texts"))
    raise Unavailable(f"the serving process answered {status}: {message}", field="slot")


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return None


def scrape(port: int, timeout: float = 1.0) -> dict[str, float] | None:
    """The samples of ``/metrics`` (name or ``name{quantile}`` -> value); None if unreachable."""
    try:
        status, raw = _request(port, "GET", "/metrics", None, timeout)
    except OSError:
        return None
    return parse_prometheus(raw.decode("utf-8", "replace")) if status == 200 else None


def parse_prometheus(text: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for line in text.splitlines():
        m = _SAMPLE.match(line.strip())
        if m:
            name = m.group(1) + (f"@{m.group(3)}" if m.group(3) else "")
            out[name] = float(m.group(4))
    return out


def to_metrics(samples: dict[str, float] | None, base: dict[str, int]) -> ServingMetrics:
    """Counters of the current process plus ``base`` (earlier processes of the slot)."""
    s = samples or {}

    def ms(q: str) -> float | None:
        v = s.get(f"tlm_invocation_latency_window_seconds@{q}")
        return None if v is None else round(v * 1000.0, 3)

    return ServingMetrics(
        invocations=int(s.get("tlm_invocations_total", 0)) + base.get("invocations", 0),
        errors=int(s.get("tlm_invocation_errors_total", 0)) + base.get("errors", 0),
        p50_ms=ms("0.5"),
        p95_ms=ms("0.95"),
        p99_ms=ms("0.99"),
        window_s=s.get("tlm_latency_window_seconds"),
    )
