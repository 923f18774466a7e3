"""jobs.serve's ASGI app and batcher, driven in-process with a counting predict function (the
model is not under test here: the contract suite serves a real package)."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from typing import Any

import pytest

from jobs.serve import App, Batcher, Metrics, parse_texts

pytestmark = pytest.mark.unit


class Predict:
    """Records the batches it is given; each run takes ``delay_s`` (in the inference thread)."""

    def __init__(self, delay_s: float = 0.0) -> None:
        self.batches: list[list[str]] = []
        self.delay_s = delay_s
        self.threads: set[str] = set()

    def __call__(self, texts: list[str]) -> list[dict[str, Any]]:
        self.batches.append(list(texts))
        self.threads.add(threading.current_thread().name)
        time.sleep(self.delay_s)
        return [{"label": "positive", "score": 1.0, "scores": {"positive": 1.0}, "text": t} for t in texts]


async def call(app: App, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(msg: dict[str, Any]) -> None:
        sent.append(msg)

    await app({"type": "http", "method": method, "path": path}, receive, send)
    return sent[0]["status"], sent[1]["body"]


def run(coro_fn: Any, predict: Predict, *, max_batch: int = 16, delay_ms: float = 2.0) -> Any:
    async def main() -> Any:
        metrics = Metrics()
        batcher = Batcher(predict, metrics, max_batch, delay_ms / 1000)
        return await coro_fn(App(batcher, metrics, max_texts=64, timeout_s=5))

    return asyncio.run(main())


def test_a_lone_request_runs_at_once_in_the_event_loop() -> None:
    predict = Predict()

    async def go(app: App) -> tuple[int, bytes]:
        return await call(app, "POST", "/invocations", json.dumps({"texts": ["好", "差"]}).encode())

    status, body = run(go, predict)
    assert status == 200
    assert [p["text"] for p in json.loads(body)["predictions"]] == ["好", "差"]
    assert predict.batches == [["好", "差"]]
    assert predict.threads == {"MainThread"}


def test_requests_that_arrive_together_share_one_run_on_the_inference_thread() -> None:
    predict = Predict(delay_s=0.01)

    async def go(app: App) -> list[tuple[int, bytes]]:
        return await asyncio.gather(*(call(app, "POST", "/invocations", json.dumps({"texts": [str(i)]}).encode())
                                      for i in range(11)))

    answers = run(go, predict)
    assert all(status == 200 for status, _ in answers)
    assert [json.loads(b)["predictions"][0]["text"] for _, b in answers] == [str(i) for i in range(11)]
    assert predict.batches == [[str(i) for i in range(11)]]
    assert len(predict.threads) == 1 and predict.threads != {"MainThread"}


def test_requests_queued_behind_a_run_go_into_the_next_one() -> None:
    predict = Predict(delay_s=0.05)

    async def go(app: App) -> None:
        first = [asyncio.create_task(call(app, "POST", "/invocations", b'{"texts": ["a%d"]}' % i)) for i in range(2)]
        await asyncio.sleep(0.02)  # the first two are running (on the inference thread): these queue
        later = [call(app, "POST", "/invocations", b'{"texts": ["b%d"]}' % i) for i in range(5)]
        await asyncio.gather(*first, *later)

    run(go, predict)
    assert predict.batches == [["a0", "a1"], ["b0", "b1", "b2", "b3", "b4"]]


def test_metrics_count_batches_collected_and_their_requests() -> None:
    predict = Predict(delay_s=0.05)

    async def go(app: App) -> str:
        first = [asyncio.create_task(call(app, "POST", "/invocations", b'{"texts": ["a%d"]}' % i)) for i in range(2)]
        await asyncio.sleep(0.02)
        await asyncio.gather(*first, *(call(app, "POST", "/invocations", b'{"texts": ["b", "c"]}') for _ in range(3)))
        return (await call(app, "GET", "/metrics"))[1].decode()

    text = run(go, predict)
    assert "tlm_batches_total 2\n" in text and "tlm_batched_requests_total 5\n" in text
    assert "tlm_batch_size_sum 8.000000" in text  # texts per session.run: one run each here


def test_max_batch_bounds_a_run_and_one_means_no_batching() -> None:
    for max_batch, want in ((4, [4, 4, 2]), (1, [1] * 10)):
        predict = Predict(delay_s=0.01)

        async def go(app: App) -> None:
            await asyncio.gather(*(call(app, "POST", "/invocations", json.dumps({"texts": [str(i)]}).encode())
                                   for i in range(10)))

        run(go, predict, max_batch=max_batch)
        assert [len(b) for b in predict.batches] == want, max_batch
        assert [t for b in predict.batches for t in b] == [str(i) for i in range(10)]


def test_a_request_over_max_batch_runs_alone_in_chunks() -> None:
    predict = Predict()

    async def go(app: App) -> tuple[int, bytes]:
        return await call(app, "POST", "/invocations", json.dumps({"texts": [str(i) for i in range(10)]}).encode())

    status, body = run(go, predict, max_batch=4)
    assert status == 200 and len(json.loads(body)["predictions"]) == 10
    assert [len(b) for b in predict.batches] == [4, 4, 2]


@pytest.mark.parametrize(("body", "status", "field"), [
    (b"not json", 400, "body"), (b'{"texts": []}', 400, "texts"), (b'{"texts": [1]}', 400, "texts"),
    (b'{"other": ["x"]}', 400, "texts"), (json.dumps({"texts": ["x"] * 65}).encode(), 413, "texts"),
])
def test_bad_requests_name_the_field_and_count_as_errors(body: bytes, status: int, field: str) -> None:
    predict = Predict()

    async def go(app: App) -> tuple[tuple[int, bytes], str]:
        answer = await call(app, "POST", "/invocations", body)
        return answer, app.metrics.render()

    (got, doc), text = run(go, predict)
    assert got == status and json.loads(doc)["field"] == field
    assert predict.batches == []
    assert "tlm_invocations_total 1" in text and "tlm_invocation_errors_total 1" in text


def test_ping_metrics_and_unknown_routes() -> None:
    async def go(app: App) -> list[tuple[int, bytes]]:
        await call(app, "POST", "/invocations", b'{"texts": ["a", "b"]}')
        return [await call(app, "GET", "/ping"), await call(app, "GET", "/metrics"), await call(app, "GET", "/nope")]

    (ping, _), (mstatus, metrics), (missing, _) = run(go, Predict())
    assert (ping, mstatus, missing) == (200, 200, 404)
    text = metrics.decode()
    for line in ("tlm_invocations_total 1", "tlm_invocation_errors_total 0", "tlm_texts_total 2",
                 'tlm_invocation_latency_seconds_bucket{le="+Inf"} 1', "tlm_invocation_latency_seconds_count 1",
                 'tlm_batch_size_bucket{le="2"} 1', "tlm_invocation_latency_window_seconds_count 1"):
        assert line in text, line
    assert 'tlm_invocation_latency_window_seconds{quantile="0.99"}' in text


def test_parse_texts_accepts_the_inference_handler_shape() -> None:
    assert parse_texts(b'{"inputs": "one"}', 4) == ["one"]
    assert parse_texts('{"texts": ["中文"]}'.encode(), 4) == ["中文"]


def test_a_batch_runs_in_length_buckets_and_answers_in_order() -> None:
    predict = Predict()
    texts = ["长" * 60, "短", "中" * 20, "好", "长" * 58]

    async def go(app: App) -> tuple[int, bytes]:
        return await call(app, "POST", "/invocations", json.dumps({"texts": texts}).encode())

    status, body = run(go, predict)
    assert status == 200
    assert [p["text"] for p in json.loads(body)["predictions"]] == texts  # the request's order
    assert predict.batches == [["短", "好"], ["中" * 20], ["长" * 58, "长" * 60]]  # no short text padded to 60
