"""API handler benchmark: cold import of the Lambda handler module against a bare ``import boto3``,
and warm in-process request latency, in one run.

Cold: ``--cold`` fresh interpreters per module (default 20 each, interleaved handler / boto3 so
machine noise hits both alike). Each child times its own import with ``perf_counter`` (the
interpreter's own start-up is the same for both and is left out; the parent's wall time per
process, start-up included, is reported too). Environment: as a plain shell here, not in Lambda,
so powertools disables tracing (see runtime.observability: the X-Ray SDK is then never loaded).

Warm: a local container (SQLite in a temp dir) with ``--models`` registered models; then
``--requests`` API Gateway REST proxy events (the shape the local server and API Gateway send)
through ``functions.api.handler.handler`` in-process, a fixed mix of GET /health, GET
/models?q=<word> (search over the models view) and GET /models/<id> (replays the model's stream).
Every answer must be 200. p50 / p99 of the per-request time.

The last line printed is one JSON object (see DESIGN.md §3).

    python bench/api.py [--cold 20] [--requests 6000] [--models 60]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[1]
_CHILD = "import time; t = time.perf_counter(); import {mod}; print(time.perf_counter() - t)"
WORDS = ["情感", "qinggan", "分类", "fl", "bert", "sentiment", "摘要 OR 翻译", "zhaiyao", "新闻", "model"]
NAMES = ["中文情感分类模型", "文本摘要模型", "新闻分类模型", "机器翻译模型", "命名实体识别模型", "问答模型"]
FAMILIES = ["bert", "roberta", "albert", "electra", "xlnet", "other"]


def cold_import(mod: str) -> tuple[float, float]:
    """(import seconds measured inside the child, wall seconds of the whole child)."""
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "0"}
    env.pop("AWS_LAMBDA_FUNCTION_NAME", None)
    t = time.perf_counter()
    out = subprocess.run(  # noqa: S603 - our interpreter, a fixed script
        [sys.executable, "-c", _CHILD.format(mod=mod)], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    return float(out.stdout.strip().splitlines()[-1]), time.perf_counter() - t


def cold(n: int) -> dict[str, Any]:
    for mod in ("functions.api.handler", "boto3"):  # warm the OS page cache and .pyc files
        cold_import(mod)
    handler, boto3 = [], []
    for _ in range(n):
        handler.append(cold_import("functions.api.handler"))
        boto3.append(cold_import("boto3"))
    h_imp, b_imp = statistics.median(x[0] for x in handler), statistics.median(x[0] for x in boto3)
    h_wall, b_wall = statistics.median(x[1] for x in handler), statistics.median(x[1] for x in boto3)
    return {
        "handler_import_ms": round(h_imp * 1000, 1),
        "boto3_import_ms": round(b_imp * 1000, 1),
        "handler_import_vs_boto3": round(h_imp / b_imp, 3),
        "handler_process_ms": round(h_wall * 1000, 1),
        "boto3_process_ms": round(b_wall * 1000, 1),
        "handler_process_vs_boto3": round(h_wall / b_wall, 3),
        "cold_processes_each": n,
    }


def _pct(sorted_ms: list[float], q: float) -> float:
    return sorted_ms[min(len(sorted_ms) - 1, int(len(sorted_ms) * q))]


def warm(n_requests: int, n_models: int, data_dir: Path) -> dict[str, Any]:
    from functions.api.handler import handler
    from runtime.bootstrap import build_local, set_container
    from runtime.services.commands import Caller
    from runtime.settings import Settings
    from tlm.server import _Context, proxy_event

    container = build_local(Settings(backend="local", data_dir=data_dir, sqlite_synchronous="NORMAL"))
    set_container(container)
    try:
        user = Caller(user_id="bench")
        lib = container.library
        pid = lib.create_project(user, "基准项目")["project_id"]
        ids = []
        for i in range(n_models):
            name = f"{NAMES[i % len(NAMES)]}{i}"
            tags = ["sentiment", "中文"] if i % 3 == 0 else ["summary"]
            ids.append(
                lib.register_model(
                    user, pid, name=name, family=FAMILIES[i % len(FAMILIES)], description=f"{name}，基准测试", tags=tags
                )["model_id"]
            )
        container.catch_up()

        def event(path: str) -> dict[str, Any]:
            return proxy_event("GET", path, {"Accept": "application/json"}, b"", "bench")

        rng = random.Random(7)
        paths = []
        for i in range(n_requests):
            kind = i % 3
            if kind == 0:
                paths.append("/health")
            elif kind == 1:
                paths.append(f"/models?q={quote(rng.choice(WORDS))}&limit=20")
            else:
                paths.append(f"/models/{rng.choice(ids)}")
        events = [event(p) for p in paths]
        ctx = _Context()
        for e in events[:200]:  # warm-up: first-use imports, caches
            assert handler(e, ctx)["statusCode"] == 200
        times = []
        clock = time.perf_counter_ns
        for e in events:
            t = clock()
            res = handler(e, ctx)
            times.append(clock() - t)
            if res["statusCode"] != 200:
                raise SystemExit(f"{e['path']}: {res['statusCode']} {res.get('body')}")
        ms = sorted(t / 1e6 for t in times)
        per_kind: dict[str, list[float]] = {"health": [], "search": [], "detail": []}
        for p, t in zip(paths, times, strict=True):
            kind = "health" if p == "/health" else "search" if p.startswith("/models?") else "detail"
            per_kind[kind].append(t / 1e6)
        kinds = {f"warm_p99_{k}_ms": round(_pct(sorted(v), 0.99), 3) for k, v in per_kind.items()}
        return {
            "warm_requests": len(ms),
            "warm_models": n_models,
            "warm_p50_ms": round(_pct(ms, 0.5), 3),
            "warm_p99_ms": round(_pct(ms, 0.99), 3),
            "warm_max_ms": round(ms[-1], 3),
            "warm_mean_ms": round(statistics.fmean(ms), 3),
            **kinds,
        }
    finally:
        set_container(None)
        container.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cold", type=int, default=20, help="fresh processes per module")
    ap.add_argument("--requests", type=int, default=6000)
    ap.add_argument("--models", type=int, default=60)
    args = ap.parse_args()
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    figures: dict[str, Any] = {"bench": "api"}
    c = cold(args.cold)
    print(
        f"cold import (median of {args.cold}): handler {c['handler_import_ms']} ms, boto3 {c['boto3_import_ms']} ms "
        f"-> {c['handler_import_vs_boto3']}x; whole process {c['handler_process_ms']} vs {c['boto3_process_ms']} ms"
    )
    with tempfile.TemporaryDirectory(prefix="tlm-bench-api-") as tmp:
        w = warm(args.requests, args.models, Path(tmp))
    print(f"warm ({w['warm_requests']} requests): p50 {w['warm_p50_ms']} ms, p99 {w['warm_p99_ms']} ms")
    figures.update(c)
    figures.update(w)
    print(json.dumps(figures, ensure_ascii=False))


if __name__ == "__main__":
    main()
