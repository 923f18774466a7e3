"""jobs.serve's HTTP transport: a response's head and body leave in one send (one TCP segment,
one wake-up of the client), and the server runs on httptools' parser over keep-alive."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from typing import Any

import pytest

from jobs.serve import App, Batcher, Metrics, _Coalesced, http_protocol

pytestmark = pytest.mark.unit


class Transport:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def close(self) -> None:
        self.closed = True

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 1) if name in ("sockname", "peername") else default


def test_a_head_goes_out_with_its_body_in_one_write_and_alone_at_the_next_step() -> None:
    async def go() -> None:
        real = Transport()
        t = _Coalesced(real, asyncio.get_running_loop())  # type: ignore[arg-type]
        # Given a head, Then nothing is sent yet; When its body follows, Then both leave together
        t.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n")
        assert real.writes == []
        t.write(b"{}")
        assert real.writes == [b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}"]
        # a head without a body (204) leaves at the loop's next step
        t.write(b"HTTP/1.1 204 No Content\r\n\r\n")
        await asyncio.sleep(0)
        assert real.writes[-1] == b"HTTP/1.1 204 No Content\r\n\r\n"
        # close sends what is held first; other attributes are the real transport's
        t.write(b"HTTP/1.1 200 OK\r\n\r\n")
        t.close()
        assert real.writes[-1] == b"HTTP/1.1 200 OK\r\n\r\n" and real.closed
        assert t.get_extra_info("peername") == ("127.0.0.1", 1)
        await asyncio.sleep(0)  # the scheduled flush finds nothing held: no empty write
        assert len(real.writes) == 3

    asyncio.run(go())


def _predict(texts: list[str]) -> list[dict[str, Any]]:
    return [{"label": "positive", "score": 1.0, "scores": {"positive": 1.0}} for _ in texts]


def test_the_server_parses_with_httptools_over_keep_alive_through_the_coalescing_transport() -> None:
    import uvicorn
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    assert issubclass(http_protocol(), HttpToolsProtocol)
    metrics = Metrics()
    app = App(Batcher(_predict, metrics, 16, 0.002), metrics, max_texts=64, timeout_s=5)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, http=http_protocol(), log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            assert time.monotonic() < deadline, "server never started"
            time.sleep(0.01)
        conn = socket.create_connection(sock.getsockname(), timeout=5)
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        body = json.dumps({"texts": ["很好"]}, ensure_ascii=False).encode()
        req = (b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
               b"Content-Length: %d\r\n\r\n" % len(body)) + body
        for _ in range(3):  # keep-alive: one connection, three requests
            conn.sendall(req)
            got = conn.recv(65536)
            while b"\r\n\r\n" not in got or len(got.partition(b"\r\n\r\n")[2]) < int(
                    got.lower().split(b"content-length:")[1].split(b"\r\n")[0]):
                got += conn.recv(65536)
            head, _, payload = got.partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 200"), got
            assert b"content-length: %d" % len(payload) in head.lower()
            assert json.loads(payload)["predictions"][0]["label"] == "positive"
        # the connection writes through the coalescing transport (its behaviour: the test above)
        assert [type(p.transport) for p in server.server_state.connections] == [_Coalesced]
        conn.close()
        while metrics.invocations < 3 and time.monotonic() < deadline:  # counted just after answering
            time.sleep(0.01)
        assert metrics.invocations == 3 and metrics.errors == 0
    finally:
        server.should_exit = True
        thread.join(10)
