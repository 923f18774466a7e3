"""Fixtures for release-center tests: a hand-written ServingBackend (``FakeServing``: slots
healthy at once, predictions from a rule, a model_uri marked ``broken`` never healthy, one marked
``erroring`` failing every invocation) and compiles recorded straight in the log with real blobs
(what the compile workflow's record step writes), so versions can be made without running jobs."""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from domain.compiles.compile import COMPILES, RequestCompile, StartCompile, SucceedCompile
from domain.errors import Conflict, NotFound, Unavailable
from domain.events import new_id
from runtime.ports import Prediction, ServingEndpoint, ServingHealth, ServingMetrics, ServingSpec
from runtime.services.commands import Caller, execute


class FakeServing:
    def __init__(self) -> None:
        self.specs: dict[tuple[str, str], ServingSpec] = {}
        self.stopped: set[tuple[str, str]] = set()
        self.counts: dict[tuple[str, str], list[int]] = {}
        self.broken: set[str] = set()  # model_uris that never get healthy
        self.erroring: set[str] = set()  # model_uris whose every invocation fails
        self.lock = threading.Lock()

    def start(self, spec: ServingSpec) -> ServingEndpoint:
        key = (spec.deployment_id, spec.slot)
        with self.lock:
            if key in self.specs and key not in self.stopped and self.specs[key] != spec:
                raise Conflict("another spec runs here", field="slot")
            self.specs[key] = spec
            self.stopped.discard(key)
            self.counts[key] = [0, 0]
        return ServingEndpoint(spec.deployment_id, spec.slot, f"fake://{spec.slot}", spec)

    def _spec(self, deployment_id: str, slot: str) -> ServingSpec:
        spec = self.specs.get((deployment_id, slot))
        if spec is None:
            raise NotFound("no such slot", field="slot")
        return spec

    def health(self, deployment_id: str, slot: str) -> ServingHealth:
        spec = self._spec(deployment_id, slot)
        if (deployment_id, slot) in self.stopped:
            return ServingHealth("stopped")
        if spec.model_uri in self.broken:
            return ServingHealth("unhealthy", "exit 1: model.onnx is not an ONNX graph")
        return ServingHealth("healthy")

    def invoke(self, deployment_id: str, slot: str, texts: Sequence[str]) -> list[Prediction]:
        spec = self._spec(deployment_id, slot)
        key = (deployment_id, slot)
        if key in self.stopped:
            raise Conflict("stopped", field="slot")
        with self.lock:
            self.counts[key][0] += 1
            if spec.model_uri in self.erroring:
                self.counts[key][1] += 1
                raise Unavailable("the serving process answered 500", field="slot")
        return [Prediction("positive" if "好" in t else "negative", 0.9, {"positive": 0.9, "negative": 0.1})
                for t in texts]  # fmt: skip

    def metrics(self, deployment_id: str, slot: str) -> ServingMetrics:
        self._spec(deployment_id, slot)
        inv, err = self.counts.get((deployment_id, slot), [0, 0])
        return ServingMetrics(invocations=inv, errors=err, p50_ms=1.0, p95_ms=2.0, p99_ms=3.0, window_s=60)

    def stop(self, deployment_id: str, slot: str) -> None:
        self._spec(deployment_id, slot)
        self.stopped.add((deployment_id, slot))

    def list(self) -> list[ServingEndpoint]:
        return [ServingEndpoint(k[0], k[1], "fake://", s) for k, s in self.specs.items() if k not in self.stopped]

    def live(self, deployment_id: str) -> set[str]:
        return {k[1] for k in self.specs if k[0] == deployment_id and k not in self.stopped}


def recorded_compile(container: Any, user: str, project_id: str, model_id: str, *, target: str = "onnx-int8",
                     payload: bytes | None = None) -> tuple[str, str]:  # fmt: skip
    """A succeeded compile with real blobs; returns (compile id, the package's blob key)."""
    payload = payload or new_id().encode()
    artifacts = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, data in (("model.onnx", b"onnx:" + payload), ("compile_report.json", b'{"accuracy": 0.9}'),
                           ("model.tar.gz", b"tar:" + payload)):  # fmt: skip
            path = Path(tmp) / name
            path.write_bytes(data)
            artifacts[name] = container.artifacts.put_file(path)
    cid, caller = new_id()[:16], Caller(user)
    execute(container.store, COMPILES, cid, RequestCompile(compile_id=cid, project_id=project_id, model_id=model_id,
            model_version=1, target=target, params={}, run_id=new_id()), caller)  # fmt: skip
    execute(container.store, COMPILES, cid, StartCompile(files=[]), caller)
    execute(container.store, COMPILES, cid, SucceedCompile(artifacts=artifacts, jobs={},
            report={"accuracy": 0.9, "target": target}, manifest={"files": {}}), caller)  # fmt: skip
    return cid, artifacts["model.tar.gz"]["blob"]


def model_file(container: Any, user: str, model_id: str, path: str, data: bytes) -> None:
    """A file on a library model, as a finished upload records it (real blob)."""
    from domain.library.models import MODELS, AddFile, StartUpload

    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "f"
        src.write_bytes(data)
        blob = container.artifacts.put_file(src)
    uid = new_id()
    execute(container.store, MODELS, model_id, StartUpload(upload_id=uid, path=path, size=blob["size"],
            sha256=blob["sha256"], part_size=max(1, blob["size"])), Caller(user))  # fmt: skip
    execute(container.store, MODELS, model_id, AddFile(upload_id=uid, **blob), Caller(user))
