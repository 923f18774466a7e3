"""ServingBackend contract: the same tests against every adapter.

- ``local``: real ``jobs.serve`` processes (uvicorn, onnxruntime) supervised by
  ``LocalServingBackend`` on a temp data dir.
- ``sagemaker``: ``SageMakerServingBackend`` on moto (in-process ``mock_aws``); InvokeEndpoint is
  answered by a real ``jobs.serve`` configured only by the model's container environment
  (``tests.aws_serving``); every request is validated against botocore's service model.

What moto cannot do is skipped by name, with the reason: it creates every endpoint ``InService``
at once and runs no instances (no startup failure, no crash to heal), and it cannot compute
percentile statistics.

One tiny int8 package per session (``tests.serving_package``, ~1 s, no torch).
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from domain.errors import Conflict, Invalid, NotFound, TooLarge
from runtime.adapters.local_jobs.state import process_start_ticks
from runtime.ports import ServingBackend, ServingSpec
from tests.serving_package import TEXTS, broken_package, make_package, reference_predictions

pytestmark = pytest.mark.contract
MOTO_NO_INSTANCES = "moto creates every endpoint InService at once and runs no instances"


@dataclass
class Harness:
    name: str
    backend: Any
    package_uri: str
    broken_uri: str
    root: Path | None = None  # local: the serving state dir
    requests: Any = None  # sagemaker: tests.aws_serving.RequestLog

    def spec(self, deployment: str, slot: str = "blue", **kw: Any) -> ServingSpec:
        return ServingSpec(deployment, slot, kw.pop("model_uri", self.package_uri), **kw)


def wait_for(backend: ServingBackend, deployment: str, slot: str, status: str, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        h = backend.health(deployment, slot)
        seen.append(h.status)
        if h.status == status:
            return h
        time.sleep(0.1)
    raise AssertionError(f"{deployment}/{slot} never {status}: saw {sorted(set(seen))}, last {h}")


@pytest.fixture(scope="session")
def package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_package(tmp_path_factory.mktemp("serving") / "package")


@pytest.fixture(scope="module", params=["local", "sagemaker"])
def h(request: pytest.FixtureRequest, package: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    tmp = tmp_path_factory.mktemp(request.param)
    broken = broken_package(package, tmp / "broken")
    if request.param == "local":
        from runtime.adapters.local_serving import LocalServingBackend

        backend = LocalServingBackend(tmp / "serving", interval_s=0.2, grace_s=5)
        yield Harness("local", backend, str(package), str(broken), root=tmp / "serving")
        for ep in backend.list():
            backend.stop(ep.deployment_id, ep.slot)
        backend.close()
        return
    yield from _sagemaker(package, broken, tmp)


def _sagemaker(package: Path, broken: Path, tmp: Path) -> Iterator[Harness]:
    import boto3
    from moto import mock_aws

    from runtime.adapters.sagemaker_serving import SageMakerServingBackend
    from tests.aws_serving import PlaysSageMakerEndpoints, RequestLog

    with mock_aws():
        s = boto3.session.Session(region_name="us-east-1")
        log = RequestLog()
        sm, rt, cw, s3 = (log.attach(s.client(n)) for n in ("sagemaker", "sagemaker-runtime", "cloudwatch", "s3"))
        s3.create_bucket(Bucket="tlm-blobs")
        for src, prefix in ((package, "channels/package/"), (broken, "channels/broken/")):
            for f in src.iterdir():
                s3.put_object(Bucket="tlm-blobs", Key=prefix + f.name, Body=f.read_bytes())
        played = PlaysSageMakerEndpoints(sm, s3, cw, tmp)
        played.attach(rt)
        backend = SageMakerServingBackend(
            sm, rt, cw, image_uri="123456789012.dkr.ecr.us-east-1.amazonaws.com/tlm-serving:1",
            role_arn="arn:aws:iam::123456789012:role/tlm-serving", bucket="tlm-blobs")
        try:
            yield Harness("sagemaker", backend, "s3://tlm-blobs/channels/package/",
                          "s3://tlm-blobs/channels/broken/", requests=log)
        finally:
            played.close()
        assert log.problems == []


def test_start_becomes_healthy_and_predicts_what_the_package_predicts(h: Harness, package: Path) -> None:
    # Given a slot started from a compiled package
    ep = h.backend.start(h.spec("d-predict"))
    assert (ep.deployment_id, ep.slot) == ("d-predict", "blue")
    # When it is healthy
    wait_for(h.backend, "d-predict", "blue", "healthy")
    # Then it predicts one label per text, in order, as the package's own inference code does
    got = h.backend.invoke("d-predict", "blue", TEXTS)
    want = reference_predictions(package, TEXTS)
    assert [p.label for p in got] == [w["label"] for w in want]
    for p, w in zip(got, want, strict=True):
        assert p.scores == pytest.approx(w["scores"], abs=1e-5)
        assert p.score == pytest.approx(max(p.scores.values()))
    assert ("d-predict", "blue") in {(e.deployment_id, e.slot) for e in h.backend.list()}


def test_start_is_idempotent_and_another_spec_conflicts(h: Harness) -> None:
    first = h.backend.start(h.spec("d-idem"))
    again = h.backend.start(h.spec("d-idem"))
    assert (again.deployment_id, again.slot, again.spec) == (first.deployment_id, first.slot, first.spec)
    assert [e.slot for e in h.backend.list() if e.deployment_id == "d-idem"] == ["blue"]
    with pytest.raises(Conflict) as e:
        h.backend.start(h.spec("d-idem", threads=2))
    assert e.value.field == "slot"
    h.backend.stop("d-idem", "blue")


@pytest.mark.parametrize(("change", "field"), [
    ({"runtime": "torch"}, "runtime"), ({"threads": 0}, "threads"), ({"max_batch": 10_000}, "max_batch"),
    ({"batch_delay_ms": -1}, "batch_delay_ms"), ({"deployment_id": "no spaces"}, "deployment_id"),
    ({"slot": "-x"}, "slot"), ({"model_uri": ""}, "model_uri"),
])
def test_a_bad_spec_is_invalid_and_starts_nothing(h: Harness, change: dict[str, Any], field: str) -> None:
    spec = replace(h.spec("d-bad"), **change)
    with pytest.raises(Invalid) as e:
        h.backend.start(spec)
    assert e.value.field == field
    assert not [ep for ep in h.backend.list() if ep.deployment_id == "d-bad"]


def test_bad_texts_and_unknown_slots_are_refused(h: Harness) -> None:
    h.backend.start(h.spec("d-predict"))
    wait_for(h.backend, "d-predict", "blue", "healthy")
    for texts in ([], [1], "one string"):
        with pytest.raises(Invalid) as e:
            h.backend.invoke("d-predict", "blue", texts)
        assert e.value.field == "texts"
    with pytest.raises(TooLarge) as big:
        h.backend.invoke("d-predict", "blue", ["好"] * 65)  # default max_texts 64
    assert big.value.field == "texts"
    for call in (h.backend.health, h.backend.metrics, h.backend.stop):
        with pytest.raises(NotFound):
            call("d-predict", "nope")
    with pytest.raises(NotFound):
        h.backend.invoke("d-unknown", "blue", ["好"])


def test_metrics_count_invocations(h: Harness) -> None:
    h.backend.start(h.spec("d-metrics"))
    wait_for(h.backend, "d-metrics", "blue", "healthy")
    before = h.backend.metrics("d-metrics", "blue")
    for t in TEXTS:
        h.backend.invoke("d-metrics", "blue", [t])
    after = h.backend.metrics("d-metrics", "blue")
    assert after.invocations - before.invocations == len(TEXTS)
    assert after.errors == before.errors


def test_metrics_latency_percentiles(h: Harness) -> None:
    if h.name == "sagemaker":
        pytest.skip("moto 5.2.5 cannot compute percentile statistics (GetMetricData with p99 fails)")
    h.backend.start(h.spec("d-metrics"))
    wait_for(h.backend, "d-metrics", "blue", "healthy")
    h.backend.invoke("d-metrics", "blue", TEXTS[:2])
    m = h.backend.metrics("d-metrics", "blue")
    assert m.p50_ms is not None and m.p95_ms is not None and m.p99_ms is not None
    assert 0 < m.p50_ms <= m.p95_ms <= m.p99_ms
    assert m.window_s and m.window_s > 0


def test_stop_then_stopped_refuses_predictions_and_can_start_again(h: Harness) -> None:
    h.backend.start(h.spec("d-stop"))
    wait_for(h.backend, "d-stop", "blue", "healthy")
    h.backend.invoke("d-stop", "blue", ["好"])
    h.backend.stop("d-stop", "blue")
    assert h.backend.health("d-stop", "blue").status == "stopped"
    with pytest.raises(Conflict) as e:
        h.backend.invoke("d-stop", "blue", ["好"])
    assert e.value.field == "slot"
    assert "d-stop" not in {ep.deployment_id for ep in h.backend.list()}
    h.backend.stop("d-stop", "blue")  # again: nothing to do
    h.backend.start(h.spec("d-stop"))
    wait_for(h.backend, "d-stop", "blue", "healthy")
    assert len(h.backend.invoke("d-stop", "blue", ["好", "差"])) == 2
    h.backend.stop("d-stop", "blue")


@pytest.mark.slow
def test_a_broken_artifact_never_becomes_healthy(h: Harness) -> None:
    if h.name == "sagemaker":
        pytest.skip(f"{MOTO_NO_INSTANCES}; SageMaker fails such an endpoint when /ping never answers "
                    "(jobs.serve exits 1 on a broken artifact, tested on the local adapter)")
    h.backend.start(h.spec("d-broken", model_uri=h.broken_uri))
    deadline, seen = time.monotonic() + 40, set()
    while time.monotonic() < deadline:
        health = h.backend.health("d-broken", "blue")
        seen.add(health.status)
        if "gave up" in health.detail:
            break
        time.sleep(0.1)
    assert "healthy" not in seen and health.status == "unhealthy"
    assert "model.onnx" in health.detail  # the serving program's own reason, from its log
    h.backend.stop("d-broken", "blue")


@pytest.mark.slow
def test_a_killed_process_is_healed(h: Harness) -> None:
    if h.name == "sagemaker":
        pytest.skip(f"{MOTO_NO_INSTANCES}; SageMaker replaces failed instances itself")
    h.backend.start(h.spec("d-kill"))
    wait_for(h.backend, "d-kill", "blue", "healthy")
    h.backend.invoke("d-kill", "blue", ["好", "差"])
    before = h.backend.metrics("d-kill", "blue")
    # When its serving process is killed with SIGKILL
    assert h.root is not None
    pid = json.loads((h.root / "d-kill" / "blue" / "state.json").read_text())["pid"]
    os.kill(pid, signal.SIGKILL)
    # Then the supervisor starts it again, counts the restart and keeps the counters
    deadline = time.monotonic() + 30
    while (health := h.backend.health("d-kill", "blue")).restarts < 1 and time.monotonic() < deadline:
        time.sleep(0.1)
    wait_for(h.backend, "d-kill", "blue", "healthy")
    assert h.backend.health("d-kill", "blue").restarts == 1, health
    new_pid = json.loads((h.root / "d-kill" / "blue" / "state.json").read_text())["pid"]
    assert new_pid != pid
    assert len(h.backend.invoke("d-kill", "blue", ["好"])) == 1
    assert h.backend.metrics("d-kill", "blue").invocations == before.invocations + 1
    h.backend.stop("d-kill", "blue")


def test_a_restarted_platform_adopts_its_serving_processes(h: Harness) -> None:
    if h.name == "sagemaker":
        pytest.skip("endpoints are SageMaker's, not the platform's: nothing to adopt")
    from runtime.adapters.local_serving import LocalServingBackend

    h.backend.start(h.spec("d-adopt"))
    wait_for(h.backend, "d-adopt", "blue", "healthy")
    assert h.root is not None
    pid = json.loads((h.root / "d-adopt" / "blue" / "state.json").read_text())["pid"]
    # When another backend (a restarted platform) opens the same state dir
    other = LocalServingBackend(h.root, supervise=False)
    # Then it finds the same process healthy, serves through it, and stops it
    assert other.health("d-adopt", "blue").status == "healthy"
    assert len(other.invoke("d-adopt", "blue", ["好"])) == 1
    assert json.loads((h.root / "d-adopt" / "blue" / "state.json").read_text())["pid"] == pid
    other.stop("d-adopt", "blue")
    assert h.backend.health("d-adopt", "blue").status == "stopped"
    assert process_start_ticks(pid) is None  # gone (or a zombie of this test process, not running)


def test_a_package_without_model_onnx_is_invalid(h: Harness, tmp_path: Path) -> None:
    if h.name == "sagemaker":
        pytest.skip("the S3 package is read by SageMaker when the endpoint starts, not by start()")
    (tmp_path / "labels.json").write_text("[]")
    with pytest.raises(Invalid) as e:
        h.backend.start(h.spec("d-nomodel", model_uri=str(tmp_path)))
    assert e.value.field == "model_uri"


def test_requests_match_botocore_models(h: Harness) -> None:
    if h.name == "local":
        pytest.skip("no AWS requests on the local adapter")
    ops = h.requests.operations()
    assert {"sagemaker.CreateModel", "sagemaker.CreateEndpointConfig", "sagemaker.CreateEndpoint",
            "sagemaker.DescribeEndpoint", "sagemaker-runtime.InvokeEndpoint", "sagemaker.DeleteEndpoint",
            "cloudwatch.GetMetricData"} <= ops
    assert h.requests.problems == []
