"""The local platform server: what ``make run`` / ``tlm serve`` starts.

uvicorn (h11) serves ``tlm.asgi.PlatformApp``; see docs/adr/0011-local-server-uvicorn.md for why.

- The socket is bound before anything else (port 0 = any free port) and the bound port is
  reported: the first stdout line names the URL, and ``port_file`` (``tlm serve --port-file``)
  receives the port, written atomically once the socket listens, so a launcher never races for a
  port.
- Timeouts (idle, header, read, graceful shutdown) and limits (header bytes, header lines,
  body size) come from settings (``TLM_SERVER_*``); see ``tlm.http_protocol``.
- SIGTERM / SIGINT: stop accepting, let in-flight requests finish (up to the graceful timeout),
  then close the container (projector, job runner, database).
- A background projector tails the SQLite log into the views; writes catch the views up before
  they answer (read-your-writes), and unreferenced blobs are reclaimed.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
import threading
from collections.abc import Generator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import uvicorn

from tlm.asgi import LengthRequired, PlatformApp, _Context, parse_range, proxy_event
from tlm.auth import TokenBook
from tlm.http_protocol import Timeouts, protocol_class
from tlm.web_static import WebBundle

log = logging.getLogger("tlm.server")
_parse_range = parse_range  # the name older callers used
__all__ = ["LengthRequired", "LocalPlatform", "_Context", "bind", "proxy_event", "serve"]


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on host:port (0 = the kernel picks a free port)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.setblocking(False)
    return sock


def write_port_file(path: Path, port: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(f"{port}\n")
    os.replace(tmp, path)  # a reader sees no file or the whole port, never half of it


class _Server(uvicorn.Server):
    """uvicorn's server, with signal handling that ends in a normal return: uvicorn re-raises
    the captured signal after shutting down, which would kill us before the container closes."""

    @contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        sigs = (signal.SIGINT, signal.SIGTERM)
        original = {sig: signal.signal(sig, self.handle_exit) for sig in sigs}
        try:
            yield
        finally:
            for sig, handler in original.items():
                signal.signal(sig, handler)


class LocalPlatform:
    """The container, its background threads and the HTTP server, started and stopped together."""

    def __init__(self, container: Any, sock: socket.socket) -> None:
        s = container.settings
        self.container = container
        self.sock = sock
        self.port = int(sock.getsockname()[1])
        self.tokens = TokenBook(s.data_dir)
        self.timeouts = Timeouts(
            idle=s.server_idle_timeout, header=s.server_header_timeout, read=s.server_read_timeout,
            graceful=s.server_graceful_timeout,
        )  # fmt: skip
        self.app = PlatformApp(
            container, self.tokens, max_headers=s.server_max_headers, max_header_bytes=s.server_max_header_bytes,
            web=WebBundle(),
        )
        config = uvicorn.Config(
            self.app,
            http=protocol_class(self.timeouts),
            lifespan="off",
            ws="none",
            access_log=False,  # ours (tlm.access) has the user and request id
            log_config=None,
            server_header=False,
            proxy_headers=False,
            timeout_keep_alive=max(1, round(self.timeouts.idle)),
            timeout_graceful_shutdown=max(1, round(self.timeouts.graceful)),
            h11_max_incomplete_event_size=s.server_max_header_bytes,
        )
        self.server = _Server(config)
        self._stop = threading.Event()
        self._gc_thread: threading.Thread | None = None

    def start_background(self) -> None:
        import functions.api.handler  # noqa: F401 - imported now, not on the first request (~1 s)

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
            try:  # issue 14: serving health and metrics samples (deployment.unhealthy when it fails)
                self.container.release_monitor.watch()
            except Exception:
                log.exception("sampling the deployments failed")
            try:  # issue 15: pipeline schedules (a firing's run id is keyed by its minute: a restart never fires twice)
                self.container.pipeline_triggers.fire_due()
            except Exception:
                log.exception("firing the pipeline schedules failed")

    def run(self) -> None:
        """Serve until a signal (or ``stop()``); in-flight requests finish first."""
        try:
            self.server.run(sockets=[self.sock])
        finally:
            self._stop.set()
            self.app.pool.shutdown(wait=False, cancel_futures=True)
            self.container.close()

    def stop(self) -> None:
        self.server.should_exit = True


def _logging() -> None:
    """Server and access lines to stderr, one format; not through the "tlm" powertools logger
    (a JSON line per request with Lambda context fields would say nothing more)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    for name, level in (("tlm.server", logging.INFO), ("tlm.access", logging.INFO), ("uvicorn.error", logging.WARNING)):
        lg = logging.getLogger(name)
        if not lg.handlers:
            lg.addHandler(handler)
            lg.setLevel(level)
            lg.propagate = False


def serve(
    host: str | None = None,
    port: int | None = None,
    *,
    port_file: Path | None = None,
    ready: threading.Event | None = None,
) -> None:
    from runtime.bootstrap import build, set_container
    from runtime.settings import Settings

    _logging()
    base = Settings()
    if base.backend != "local":
        raise SystemExit("tlm serve runs the local platform (TLM_BACKEND=local)")
    sock = bind(host or base.host, base.port if port is None else port)
    # the container's URLs (signed part and download URLs) point at the port actually bound
    settings = Settings(host=host or base.host, port=int(sock.getsockname()[1]))
    container = build(settings)
    set_container(container)
    platform = LocalPlatform(container, sock)
    token = platform.tokens.ensure_default()
    platform.start_background()
    print(f"TLM local platform on {settings.base_url}  (data: {settings.data_dir.resolve()})", flush=True)
    print(f"  browser UI: {settings.base_url}/   (sign in with the token below)", flush=True)
    print(f"  API docs: {settings.base_url}/swagger   OpenAPI: {settings.base_url}/openapi.json", flush=True)
    print(f"  token for user 'local' in {platform.tokens.token_file} (tlm CLI reads it): {token[:8]}...", flush=True)
    if port_file is not None:
        write_port_file(Path(port_file), platform.port)
    if ready is not None:
        ready.set()
    platform.run()
