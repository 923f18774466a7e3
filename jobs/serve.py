"""Serve a compiled package over HTTP: ``python -m jobs.serve --model DIR [--port-file F]``.

The same program runs locally (one supervised process per deployment slot,
``runtime.adapters.local_serving``) and as SageMaker's inference container (``<image> serve``:
model in ``/opt/ml/model``, port 8080). Settings come from flags or ``TLM_SERVE_*`` variables
(the SageMaker model's environment): threads, max batch, batching delay, max sequence length,
timeout, texts per request.

- ``POST /invocations`` ``{"texts": ["...", ...]}`` (``"inputs"`` is accepted too, as in
  ``code/inference.py``) -> ``{"predictions": [{"label", "score", "scores"}, ...]}``; bad input is
  400/413 ``{"error", "message", "field"}``, a run past the timeout 504.
- ``GET /ping`` -> 200 once the model is loaded and has answered one warm-up batch.
- ``GET /metrics`` -> Prometheus text: invocations, errors, a latency histogram, latency quantiles
  over the last ``WINDOW_S`` seconds, texts per ``session.run``.

Model loading and prediction are ``jobs/inference/inference.py``'s (the code shipped in every
package): one tokenizer path. A broken artifact fails before the port is bound: exit 1, no port
file, so ``/ping`` never answers.

Dynamic batching (``Batcher``): requests that arrive while a run is in progress queue and go
into the next batch together (up to ``max_batch`` texts, run in length buckets so that short
texts are not padded to a long one's length: usually one ``session.run``, a few for mixed
lengths); while requests keep queueing it waits up to ``batch_delay_ms`` more to fill a batch.
A lone request runs at once in the event loop's thread (no delay, no thread hand-off).
``max_batch`` 1 turns batching off (one run per request, one at a time).

HTTP: uvicorn on httptools' C parser (``http_protocol``; h11's where httptools is missing), a
response's head and body sent in one write (``_Coalesced``), Nagle off on accepted sockets.
``/metrics`` also counts the batches collected and their requests (did batches form?).
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import json
import os
import socket
import sys
import time
from collections import deque
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

WINDOW_S = 60.0
BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128)
MAX_BODY = 1 << 20

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


def _env(name: str, default: str) -> str:
    return os.environ.get(f"TLM_SERVE_{name}", default)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    sm = os.environ.get("SM_MODEL_DIR") or ("/opt/ml/model" if Path("/opt/ml/model").is_dir() else "")
    ap = argparse.ArgumentParser(prog="jobs.serve")
    ap.add_argument("--model", default=_env("MODEL_DIR", sm), help="package dir (model.onnx, tokenizer.json, ...)")
    ap.add_argument("--host", default=_env("HOST", "0.0.0.0"))  # noqa: S104 - SageMaker's contract
    ap.add_argument("--port", type=int, default=int(os.environ.get("SAGEMAKER_BIND_TO_PORT") or _env("PORT", "8080")))
    ap.add_argument("--port-file", default=_env("PORT_FILE", ""), help="write the bound port here once serving")
    ap.add_argument("--watch", default="", help="exit when this path disappears (the supervisor's state dir)")
    ap.add_argument("--threads", type=int, default=int(_env("THREADS", "1")))
    ap.add_argument("--max-batch", type=int, default=int(_env("MAX_BATCH", "16")))
    ap.add_argument("--batch-delay-ms", type=float, default=float(_env("BATCH_DELAY_MS", "2")))
    ap.add_argument("--max-seq-len", type=int, default=int(_env("MAX_SEQ_LEN", "128")))
    ap.add_argument("--timeout-s", type=float, default=float(_env("TIMEOUT_S", "30")))
    ap.add_argument("--max-texts", type=int, default=int(_env("MAX_TEXTS", "64")))
    args = ap.parse_args(argv)
    if not args.model:
        ap.error("--model (or TLM_SERVE_MODEL_DIR / /opt/ml/model) is required")
    for name in ("threads", "max_batch", "max_seq_len", "max_texts"):
        if getattr(args, name) < 1:
            ap.error(f"--{name.replace('_', '-')} must be >= 1")
    if args.batch_delay_ms < 0 or args.timeout_s <= 0:
        ap.error("--batch-delay-ms must be >= 0 and --timeout-s > 0")
    return args


class Metrics:
    def __init__(self) -> None:
        self.invocations = 0
        self.errors = 0
        self.texts = 0
        self.counts = [0] * (len(BUCKETS) + 1)
        self.total_s = 0.0
        self.batch_counts = [0] * (len(BATCH_BUCKETS) + 1)
        self.batches = 0
        self.batch_texts = 0
        self.collected = 0  # batches the batcher collected (each run in one or more length buckets)
        self.collected_requests = 0
        self.window: deque[tuple[float, float]] = deque(maxlen=20000)
        self.started = time.time()

    def observe(self, seconds: float, *, error: bool) -> None:
        self.invocations += 1
        self.errors += error
        self.counts[bisect.bisect_left(BUCKETS, seconds)] += 1
        self.total_s += seconds
        self.window.append((time.monotonic(), seconds))

    def observe_batch(self, n: int) -> None:
        self.batches += 1
        self.batch_texts += n
        self.batch_counts[bisect.bisect_left(BATCH_BUCKETS, n)] += 1

    def observe_collected(self, requests: int) -> None:
        self.collected += 1
        self.collected_requests += requests

    def quantiles(self) -> tuple[dict[float, float], int, float]:
        cut = time.monotonic() - WINDOW_S
        while self.window and self.window[0][0] < cut:
            self.window.popleft()
        xs = sorted(s for _, s in self.window)
        if not xs:
            return {}, 0, 0.0
        return {q: xs[min(len(xs) - 1, int(q * len(xs)))] for q in (0.5, 0.95, 0.99)}, len(xs), sum(xs)

    def render(self) -> str:
        lines = [
            "# HELP tlm_invocations_total Requests to /invocations.", "# TYPE tlm_invocations_total counter",
            f"tlm_invocations_total {self.invocations}",
            "# HELP tlm_invocation_errors_total Requests to /invocations answered 4xx or 5xx.",
            "# TYPE tlm_invocation_errors_total counter", f"tlm_invocation_errors_total {self.errors}",
            "# HELP tlm_texts_total Texts predicted.", "# TYPE tlm_texts_total counter",
            f"tlm_texts_total {self.texts}",
            "# HELP tlm_invocation_latency_seconds Time from request to answer.",
            "# TYPE tlm_invocation_latency_seconds histogram",
        ]
        lines += _histogram("tlm_invocation_latency_seconds", BUCKETS, self.counts, self.total_s)
        qs, n, total = self.quantiles()
        lines += [f"# HELP tlm_invocation_latency_window_seconds Latency over the last {WINDOW_S:g} s.",
                  "# TYPE tlm_invocation_latency_window_seconds summary"]
        lines += [f'tlm_invocation_latency_window_seconds{{quantile="{q}"}} {v:.6f}' for q, v in qs.items()]
        lines += [f"tlm_invocation_latency_window_seconds_sum {total:.6f}",
                  f"tlm_invocation_latency_window_seconds_count {n}",
                  "# HELP tlm_batch_size Texts per session.run.", "# TYPE tlm_batch_size histogram"]
        lines += _histogram("tlm_batch_size", BATCH_BUCKETS, self.batch_counts, float(self.batch_texts))
        lines += ["# HELP tlm_batches_total Batches collected (requests run together).",
                  "# TYPE tlm_batches_total counter", f"tlm_batches_total {self.collected}",
                  "# HELP tlm_batched_requests_total Requests in those batches.",
                  "# TYPE tlm_batched_requests_total counter", f"tlm_batched_requests_total {self.collected_requests}"]
        lines += ["# TYPE tlm_latency_window_seconds gauge", f"tlm_latency_window_seconds {WINDOW_S:g}",
                  "# TYPE tlm_process_start_time_seconds gauge", f"tlm_process_start_time_seconds {self.started:.3f}"]
        return "\n".join(lines) + "\n"


def _histogram(name: str, bounds: tuple[float, ...], counts: list[int], total: float) -> list[str]:
    out, running = [], 0
    for le, c in zip((*[f"{b:g}" for b in bounds], "+Inf"), counts, strict=True):
        running += c
        out.append(f'{name}_bucket{{le="{le}"}} {running}')
    return [*out, f"{name}_sum {total:.6f}", f"{name}_count {running}"]


class BadRequest(Exception):
    def __init__(self, status: int, message: str, field: str = "texts") -> None:
        super().__init__(message)
        self.status, self.message, self.field = status, message, field


@dataclass
class _Pending:
    texts: list[str]
    future: asyncio.Future[list[dict[str, Any]]]


@dataclass
class Batcher:
    """Dynamic batching without a dispatcher thread: a request queues its texts and, when nobody
    is leading, starts a leader task. The leader yields once (requests already read by the server
    queue behind it), takes up to ``max_batch`` texts and runs them: in the event loop's thread
    when it holds one request (a lone client pays no thread hand-off), on the inference thread
    when it holds several (the loop keeps reading requests meanwhile). It leads until the queue is
    empty; while requests keep queueing (the previous run had company) it first waits up to
    ``delay_s`` for more."""

    predict: Callable[[list[str]], list[dict[str, Any]]]
    metrics: Metrics
    max_batch: int
    delay_s: float
    queue: deque[_Pending] = field(default_factory=deque)
    pool: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(1, thread_name_prefix="ort"))
    active: bool = False  # a leader is collecting or running
    _busy: bool = False  # the previous run had company: wait up to delay_s to fill the next
    _more: asyncio.Event = field(default_factory=asyncio.Event)
    _leader: asyncio.Task[None] | None = None

    async def submit(self, texts: list[str], timeout_s: float) -> list[dict[str, Any]]:
        fut: asyncio.Future[list[dict[str, Any]]] = asyncio.get_running_loop().create_future()
        self.queue.append(_Pending(texts, fut))
        self._more.set()
        if not self.active:
            self.active = True
            self._leader = asyncio.get_running_loop().create_task(self._lead())
        return await asyncio.wait_for(fut, timeout_s)

    def _queued(self) -> int:
        return sum(len(p.texts) for p in self.queue)

    async def _lead(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            await asyncio.sleep(0)
            while self.queue:
                if self._busy and self.delay_s > 0 and self._queued() < self.max_batch:
                    deadline = loop.time() + self.delay_s
                    while self._queued() < self.max_batch and (left := deadline - loop.time()) > 0:
                        self._more.clear()
                        try:
                            await asyncio.wait_for(self._more.wait(), left)
                        except TimeoutError:
                            break
                batch, n = [self.queue.popleft()], 0
                n = len(batch[0].texts)
                while self.queue and n + len(self.queue[0].texts) <= self.max_batch:
                    n += len(self.queue[0].texts)
                    batch.append(self.queue.popleft())
                batch = [p for p in batch if not p.future.done()]  # timed out meanwhile
                if not batch:
                    continue
                texts = [t for p in batch for t in p.texts]
                self.metrics.observe_collected(len(batch))
                try:
                    if len(batch) == 1:
                        results = self._run(texts)
                    else:
                        results = await loop.run_in_executor(self.pool, self._run, texts)
                except Exception as e:  # noqa: BLE001 - every request of the run gets the failure
                    for p in batch:
                        if not p.future.done():
                            p.future.set_exception(e)
                    continue
                finally:
                    self._busy = len(batch) > 1 or bool(self.queue)
                i = 0
                for p in batch:
                    if not p.future.done():
                        p.future.set_result(results[i : i + len(p.texts)])
                    i += len(p.texts)
        finally:
            self.active = False
            if self.queue:  # queued after the last look (cannot happen without a yield, but be sure)
                self.active = True
                self._leader = loop.create_task(self._lead())

    def _run(self, texts: list[str]) -> list[dict[str, Any]]:
        """Predict ``texts`` in length buckets: sorted by length, a new ``session.run`` when a text
        is over 2x (+16 characters) the bucket's shortest or the bucket holds ``max_batch``. Every
        text of a run is padded to the run's longest; on a CPU, padding a batch of mixed lengths
        costs more than batching saves (bench/serving.py measured 0.85x at batch 16 unsorted on the
        demo texts). Results come back in the order of ``texts``."""
        out: list[dict[str, Any] | None] = [None] * len(texts)
        bucket: list[int] = []

        def flush() -> None:
            self.metrics.observe_batch(len(bucket))
            for j, pred in zip(bucket, self.predict([texts[j] for j in bucket]), strict=True):
                out[j] = pred
            bucket.clear()

        for i in sorted(range(len(texts)), key=lambda k: len(texts[k])):
            if bucket and (len(bucket) >= self.max_batch or len(texts[i]) > 2 * len(texts[bucket[0]]) + 16):
                flush()
            bucket.append(i)
        if bucket:
            flush()
        return [p for p in out if p is not None]


def parse_texts(body: bytes, max_texts: int) -> list[str]:
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError) as e:
        raise BadRequest(400, f"body is not JSON: {e}", "body") from None
    texts = doc.get("texts", doc.get("inputs")) if isinstance(doc, dict) else None
    if isinstance(texts, str):
        texts = [texts]
    if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
        raise BadRequest(400, 'expected {"texts": ["text", ...]} with at least one string')
    if len(texts) > max_texts:
        raise BadRequest(413, f"at most {max_texts} texts per request, got {len(texts)}")
    return texts


class App:
    def __init__(self, batcher: Batcher, metrics: Metrics, *, max_texts: int, timeout_s: float) -> None:
        self.batcher, self.metrics, self.max_texts, self.timeout_s = batcher, metrics, max_texts, timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while (msg := await receive())["type"] != "lifespan.shutdown":
                if msg["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        if scope["type"] != "http":
            return
        path, method = scope["path"], scope["method"]
        if path == "/ping":
            await _answer(send, 200, b'{"status":"healthy"}')
        elif path == "/metrics" and method == "GET":
            await _answer(send, 200, self.metrics.render().encode(), "text/plain; version=0.0.4")
        elif path == "/invocations" and method == "POST":
            await self.invocations(receive, send)
        else:
            msg = {"error": "not_found", "message": f"no route {method} {path}"}
            await _answer(send, 404, json.dumps(msg).encode())

    async def invocations(self, receive: Receive, send: Send) -> None:
        t0 = time.perf_counter()
        status, body = 200, b""
        try:
            raw = await _body(receive)
            texts = parse_texts(raw, self.max_texts)
            try:
                preds = await self.batcher.submit(texts, self.timeout_s)
            except TimeoutError:
                raise BadRequest(504, f"no answer within {self.timeout_s:g} s", "timeout_s") from None
            self.metrics.texts += len(texts)
            body = json.dumps({"predictions": preds}, ensure_ascii=False).encode()
        except BadRequest as e:
            status = e.status
            body = json.dumps({"error": "invalid" if e.status < 500 else "timeout", "message": e.message,
                               "field": e.field}, ensure_ascii=False).encode()
        except Exception as e:  # noqa: BLE001 - a failed run is this request's 500, not the server's end
            status = 500
            body = json.dumps({"error": "prediction_failed", "message": f"{type(e).__name__}: {e}"}).encode()
        await _answer(send, status, body)
        self.metrics.observe(time.perf_counter() - t0, error=status >= 400)


async def _body(receive: Receive) -> bytes:
    chunks, size = [], 0
    while True:
        msg = await receive()
        chunk = msg.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            raise BadRequest(413, f"request body over {MAX_BODY} bytes", "body")
        chunks.append(chunk)
        if not msg.get("more_body"):
            return b"".join(chunks)


async def _answer(send: Send, status: int, body: bytes, ctype: str = "application/json") -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", ctype.encode()), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


class _Coalesced:
    """A transport that sends a response's head together with its body: uvicorn writes them
    separately, two TCP segments that wake the client twice (and, on a busy machine, let it
    preempt the server between them). A write that ends a head (``\\r\\n\\r\\n``) is held
    and goes out with the next write, or at the loop's next step (``call_soon``: a response
    without a body), or on ``close``. Everything else is the real transport's."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport, self._loop = transport, loop
        self._held = b""

    def write(self, data: bytes | bytearray | memoryview) -> None:
        data = bytes(data)
        if not self._held and data.endswith(b"\r\n\r\n"):
            self._held = data
            self._loop.call_soon(self._flush)
            return
        self._transport.write(self._held + data)
        self._held = b""

    def _flush(self) -> None:
        if self._held:
            data, self._held = self._held, b""
            self._transport.write(data)

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


def http_protocol() -> type[asyncio.Protocol]:
    """uvicorn's httptools protocol (C parser: ~0.1 ms of server CPU a request, where h11's pure
    Python parser took ~0.5 ms) or h11's where httptools is missing, writing through ``_Coalesced``."""
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as base
    except ImportError:  # httptools not installed
        from uvicorn.protocols.http.h11_impl import H11Protocol as base  # type: ignore[assignment]

    class Coalescing(base):
        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(_Coalesced(transport, asyncio.get_running_loop()))  # type: ignore[arg-type]

    return Coalescing


def load(args: argparse.Namespace) -> Callable[[list[str]], list[dict[str, Any]]]:
    """The package's model and its predict function, warmed up; raises on a broken artifact."""
    from jobs.inference.inference import _Model, predict_fn

    d = Path(args.model)
    if not (d / "model.onnx").is_file():
        raise FileNotFoundError(f"{d}: no model.onnx (serve a compiled package)")
    model = _Model(str(d), max_len=args.max_seq_len, threads=args.threads)

    def predict(texts: list[str]) -> list[dict[str, Any]]:
        return predict_fn(texts, model)

    predict(["warm up", "预热"])
    return predict


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        predict = load(args)
    except Exception as e:  # noqa: BLE001 - any load failure is a startup failure
        print(f"serve: cannot load {args.model}: {type(e).__name__}: {e}", file=sys.stderr, flush=True)
        return 1
    import uvicorn

    metrics = Metrics()
    batcher = Batcher(predict, metrics, args.max_batch, args.batch_delay_ms / 1000.0)
    app = App(batcher, metrics, max_texts=args.max_texts, timeout_s=args.timeout_s)
    # proto=IPPROTO_TCP: asyncio sets TCP_NODELAY on accepted sockets only when proto says TCP; with
    # the default 0 the body write waits for the client's delayed ACK of the head (~40 ms a request)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.host, args.port))
    config = uvicorn.Config(app, http=http_protocol(), log_level="warning", access_log=False, lifespan="on",
                            timeout_keep_alive=30, server_header=False)
    server = uvicorn.Server(config)

    async def serve() -> None:
        task = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started and not task.done():
            await asyncio.sleep(0.01)
        if args.port_file and server.started:
            tmp = Path(args.port_file + ".tmp")
            tmp.write_text(str(sock.getsockname()[1]), encoding="utf-8")
            tmp.replace(args.port_file)
        print(f"serving {args.model} on {args.host}:{sock.getsockname()[1]} (threads={args.threads}, "
              f"max_batch={args.max_batch}, batch_delay_ms={args.batch_delay_ms:g})", flush=True)
        while args.watch and not task.done():
            await asyncio.sleep(1.0)
            if not Path(args.watch).exists():
                print(f"serve: {args.watch} is gone, stopping", flush=True)
                server.should_exit = True
        await task

    asyncio.run(serve())
    return 0


if __name__ == "__main__":
    sys.exit(main())
