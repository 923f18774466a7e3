"""ServingBackend on this machine: one supervised ``jobs.serve`` process per deployment slot.

Each slot lives in ``<root>/<deployment>/<slot>/``: ``state.json`` (the record, atomic writes),
``port`` (written by the process once it listens on its free port), ``serve.log``, and the
unpacked package when the spec names a blob. Processes run in their own session, so they outlive
the platform process; a new backend on the same root adopts the live ones (pid + start time +
boot id, as the job runner does), restarts the dead ones and kills the leftovers of stopped slots.

Supervision (a daemon thread, every ``interval_s``; ``health`` runs the same check at once):

- starting -> healthy when ``/ping`` answers 200; only then does ``invoke`` send it texts;
- a healthy process that dies (kill -9, crash) is started again at once: ``restarts`` + 1, its
  counters (as last scraped) carried into the slot's totals;
- a process that exits before it was ever healthy (a broken artifact) is retried with backoff up
  to ``max_start_failures`` times, then the slot stays ``unhealthy`` (detail: the log's tail);
- a healthy process that stops answering ``/ping`` is ``unhealthy``; after ``kill_after_misses``
  misses it is killed (and so restarted).

``stop`` = SIGTERM, wait ``grace_s``, SIGKILL. Each process also watches its ``state.json`` and
exits when the slot directory is removed (a deleted data dir leaves no orphans).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tarfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from domain.errors import Conflict, Invalid, NotFound, TooLarge, Unavailable
from runtime.adapters.local_jobs.state import (
    boot_id,
    process_start_ticks,
    read_json,
    same_process_alive,
    write_json_atomic,
)
from runtime.adapters.local_serving import client
from runtime.ports import (
    BlobStore,
    Prediction,
    ServingEndpoint,
    ServingHealth,
    ServingMetrics,
    ServingSpec,
    check_serving_ids,
    check_serving_spec,
)

RUNTIME_TARGETS = {"onnxruntime-int8": "onnx-int8", "onnxruntime-fp32": "onnx"}  # -> jobs.recipes target


class LocalServingBackend:
    def __init__(
        self,
        root: Path,
        blobs: BlobStore | None = None,
        *,
        python: str = sys.executable,
        interval_s: float = 0.5,
        grace_s: float = 10.0,
        startup_timeout_s: float = 120.0,
        max_start_failures: int = 3,
        kill_after_misses: int = 6,
        supervise: bool = True,
        parent_env: Mapping[str, str] | None = None,
    ) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.blobs = blobs
        self.python = python
        self.interval_s, self.grace_s, self.startup_timeout_s = interval_s, grace_s, startup_timeout_s
        self.max_start_failures, self.kill_after_misses = max_start_failures, kill_after_misses
        self._env = dict(os.environ if parent_env is None else parent_env)
        self._lock = threading.RLock()
        self._procs: dict[tuple[str, str], subprocess.Popen[bytes]] = {}
        self._misses: dict[tuple[str, str], int] = {}
        self._last: dict[tuple[str, str], dict[str, float]] = {}  # last scrape of the current process
        self._scraped_at: dict[tuple[str, str], float] = {}
        self._closed = threading.Event()
        self._reap_stopped()
        self._thread: threading.Thread | None = None
        if supervise:
            self._thread = threading.Thread(target=self._supervise, daemon=True, name="serving-supervisor")
            self._thread.start()

    # ---------------------------------------------------------------- port
    def start(self, spec: ServingSpec) -> ServingEndpoint:
        check_serving_spec(spec)
        key = (spec.deployment_id, spec.slot)
        with self._lock:
            rec = self._load(key)
            if rec is not None and rec["status"] != "stopped":
                if rec["spec"] != json.loads(json.dumps(asdict(spec))):
                    raise Conflict(f"slot {spec.slot!r} of {spec.deployment_id!r} runs another spec: stop it first",
                                   field="slot")
                if rec["status"] == "running":
                    return self._endpoint(rec)
            model_dir = self._materialize(spec)
            self._check_runtime(spec, model_dir)
            rec = {"deployment_id": spec.deployment_id, "slot": spec.slot, "spec": asdict(spec),
                   "model_dir": str(model_dir), "status": "running", "restarts": 0, "failures": 0,
                   "base": {"invocations": 0, "errors": 0}, "detail": "", "created_at": time.time()}
            self._spawn(key, rec)
            return self._endpoint(rec)

    def health(self, deployment_id: str, slot: str) -> ServingHealth:
        return self._tick((deployment_id, slot))

    def invoke(self, deployment_id: str, slot: str, texts: Sequence[str]) -> list[Prediction]:
        key = (deployment_id, slot)
        rec = self._record(key)
        spec = ServingSpec(**rec["spec"])
        if isinstance(texts, str) or not isinstance(texts, Sequence) or not texts \
                or not all(isinstance(t, str) for t in texts):
            raise Invalid("texts must be a non-empty list of strings", field="texts")
        if len(texts) > spec.max_texts:
            raise TooLarge(f"at most {spec.max_texts} texts per request (max_texts), got {len(texts)}", field="texts")
        if rec["status"] == "stopped":
            raise Conflict(f"slot {slot!r} of {deployment_id!r} is stopped", field="slot")
        if not (rec["status"] == "running" and rec.get("healthy") and rec.get("port") and self._alive(key, rec)):
            health = self._tick(key)  # not known healthy: look now (the supervisor may not have yet)
            if health.status != "healthy":
                raise Unavailable(f"slot {slot!r} of {deployment_id!r} is {health.status}: {health.detail}",
                                  field="slot")
            rec = self._record(key)
        return client.invoke(int(rec["port"]), texts, timeout=spec.timeout_s + 1.0)

    def metrics(self, deployment_id: str, slot: str) -> ServingMetrics:
        key = (deployment_id, slot)
        rec = self._record(key)
        samples = None
        if rec["status"] != "stopped" and rec.get("port") and self._alive(key, rec):
            samples = client.scrape(int(rec["port"]))
            if samples is not None:
                self._last[key] = samples
        return client.to_metrics(samples if samples is not None else self._last.get(key), rec["base"])

    def stop(self, deployment_id: str, slot: str) -> None:
        key = (deployment_id, slot)
        with self._lock:
            rec = self._record(key)
            if rec["status"] == "stopped":
                return
            if rec.get("port") and (samples := client.scrape(int(rec["port"]), timeout=0.5)) is not None:
                self._last[key] = samples
            self._fold(key, rec)
            rec.update(status="stopped", detail="stopped", stopped_at=time.time())
            self._save(key, rec)
            proc = self._procs.pop(key, None)
        self._terminate(rec, proc)

    def list(self) -> list[ServingEndpoint]:
        out = []
        for state in sorted(self.root.glob("*/*/state.json")):
            rec = read_json(state)
            if rec and rec.get("status") != "stopped":
                out.append(self._endpoint(rec))
        return out

    # ---------------------------------------------------------------- lifecycle
    def close(self) -> None:
        """Stop supervising (the processes keep serving; a new backend adopts them)."""
        self._closed.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _supervise(self) -> None:
        while not self._closed.wait(self.interval_s):
            for state in sorted(self.root.glob("*/*/state.json")):
                key = (state.parent.parent.name, state.parent.name)
                try:
                    self._tick(key)
                except Exception as e:  # noqa: BLE001 - one bad slot must not end supervision of the others
                    print(f"serving supervisor: {key}: {e!r}", file=sys.stderr, flush=True)

    def _tick(self, key: tuple[str, str]) -> ServingHealth:
        """Check one slot, heal it if needed, and say how it is."""
        with self._lock:
            rec = self._record(key)
            if rec["status"] == "stopped":
                return ServingHealth("stopped", rec.get("detail", ""), rec["restarts"])
            if rec["status"] == "failed":
                return ServingHealth("unhealthy", rec["detail"], rec["restarts"])
            if not self._alive(key, rec):
                return self._exited(key, rec)
            port = rec.get("port") or self._read_port(key)
            if port and port != rec.get("port"):
                rec["port"] = port
                self._save(key, rec)
            if port and client.ping(port):
                self._misses[key] = 0
                if not rec.get("healthy"):
                    rec.update(healthy=True, failures=0, detail="")
                    self._save(key, rec)
                if time.monotonic() - self._scraped_at.get(key, 0.0) > 2.0:
                    self._scraped_at[key] = time.monotonic()
                    if (samples := client.scrape(port, timeout=0.5)) is not None:
                        self._last[key] = samples
                return ServingHealth("healthy", "", rec["restarts"])
            if not rec.get("healthy"):
                if time.time() - rec["spawned_at"] > self.startup_timeout_s:
                    self._kill(key, rec)
                    return self._exited(key, rec, why=f"not healthy within {self.startup_timeout_s:g} s")
                return ServingHealth("starting", rec.get("detail", ""), rec["restarts"])
            misses = self._misses.get(key, 0) + 1
            self._misses[key] = misses
            if misses >= self.kill_after_misses:
                self._kill(key, rec)  # the next tick finds it dead and starts it again
            return ServingHealth("unhealthy", f"/ping failed {misses} time(s)", rec["restarts"])

    def _exited(self, key: tuple[str, str], rec: dict[str, Any], why: str = "") -> ServingHealth:
        proc = self._procs.pop(key, None)
        rc = proc.poll() if proc is not None else None
        why = why or f"process {rec.get('pid')} exited" + (f" with {rc}" if rc is not None else "")
        if rec.get("healthy"):  # it served, then died: heal now
            self._fold(key, rec)
            rec["restarts"] += 1
            rec["detail"] = f"{why}; restarted"
            self._spawn(key, rec)
            return ServingHealth("starting", rec["detail"], rec["restarts"])
        if rec.get("pid") is not None and not rec.get("counted"):  # died while starting
            rec.update(failures=rec["failures"] + 1, counted=True,
                       detail=f"{why} before it was healthy: {self._tail(key)}")
            if rec["failures"] >= self.max_start_failures:
                rec.update(status="failed", pid=None,
                           detail=f"gave up after {rec['failures']} failed starts; last: {rec['detail']}")
                self._save(key, rec)
                return ServingHealth("unhealthy", rec["detail"], rec["restarts"])
            rec["retry_at"] = time.time() + min(30.0, 0.5 * 2 ** rec["failures"])
            self._save(key, rec)
        if time.time() >= rec.get("retry_at", 0.0):
            rec["restarts"] += 1
            self._spawn(key, rec)
        return ServingHealth("unhealthy", rec["detail"], rec["restarts"])

    # ---------------------------------------------------------------- processes
    def _spawn(self, key: tuple[str, str], rec: dict[str, Any]) -> None:
        d = self._dir(key)
        d.mkdir(parents=True, exist_ok=True)
        (d / "port").unlink(missing_ok=True)
        spec = ServingSpec(**rec["spec"])
        cmd = [self.python, "-m", "jobs.serve", "--model", rec["model_dir"], "--host", "127.0.0.1", "--port", "0",
               "--port-file", str(d / "port"), "--watch", str(d / "state.json"), "--threads", str(spec.threads),
               "--max-batch", str(spec.max_batch), "--batch-delay-ms", str(spec.batch_delay_ms),
               "--max-seq-len", str(spec.max_seq_len), "--timeout-s", str(spec.timeout_s),
               "--max-texts", str(spec.max_texts)]
        env = {**self._env, **spec.environment, "TLM_SERVE_RUNTIME": spec.runtime, "ORT_DISABLE_TELEMETRY": "1"}
        rec.update(port=None, healthy=False, counted=False, spawned_at=time.time())
        self._save(key, rec)  # state.json exists before the process watches it
        with open(d / "serve.log", "ab") as log:
            proc = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
                cmd, cwd=d, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True, close_fds=True)
        self._procs[key] = proc
        self._misses[key] = 0
        self._last.pop(key, None)
        rec.update(pid=proc.pid, pid_start=process_start_ticks(proc.pid), boot_id=boot_id())
        self._save(key, rec)

    def _alive(self, key: tuple[str, str], rec: dict[str, Any]) -> bool:
        proc = self._procs.get(key)
        if proc is not None:
            return proc.poll() is None
        return same_process_alive(rec.get("pid"), rec.get("pid_start"), rec.get("boot_id"))

    def _kill(self, key: tuple[str, str], rec: dict[str, Any]) -> None:
        if self._alive(key, rec):
            _killpg(int(rec["pid"]), signal.SIGKILL)
        proc = self._procs.get(key)
        if proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)

    def _terminate(self, rec: dict[str, Any], proc: subprocess.Popen[bytes] | None) -> None:
        pid = rec.get("pid")
        if proc is None and not same_process_alive(pid, rec.get("pid_start"), rec.get("boot_id")):
            return
        assert pid is not None
        _killpg(int(pid), signal.SIGTERM)
        deadline = time.monotonic() + self.grace_s
        while time.monotonic() < deadline:
            if proc is not None and proc.poll() is not None:
                return
            if proc is None and not same_process_alive(pid, rec.get("pid_start"), rec.get("boot_id")):
                return
            time.sleep(0.05)
        _killpg(int(pid), signal.SIGKILL)
        if proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)

    def _reap_stopped(self) -> None:
        """Kill what a stop left running (the platform died between the record and the kill)."""
        for state in self.root.glob("*/*/state.json"):
            rec = read_json(state)
            if (rec and rec.get("status") in ("stopped", "failed") and rec.get("pid")
                    and same_process_alive(rec["pid"], rec.get("pid_start"), rec.get("boot_id"))):
                _killpg(int(rec["pid"]), signal.SIGKILL)

    def _fold(self, key: tuple[str, str], rec: dict[str, Any]) -> None:
        """Carry the current process's counters (as last scraped) into the slot's totals."""
        last = self._last.pop(key, None) or {}
        rec["base"] = {"invocations": rec["base"]["invocations"] + int(last.get("tlm_invocations_total", 0)),
                       "errors": rec["base"]["errors"] + int(last.get("tlm_invocation_errors_total", 0))}

    # ---------------------------------------------------------------- artifacts
    def _materialize(self, spec: ServingSpec) -> Path:
        """The package as a directory: ``model_uri`` is one, or a blob key of its tar.gz."""
        uri = spec.model_uri.removeprefix("file://")
        d = Path(uri)
        if not uri.startswith("sha256/") and d.is_dir():
            model_dir = d
        elif uri.startswith("sha256/") and self.blobs is not None and self.blobs.exists(uri):
            model_dir = self._dir((spec.deployment_id, spec.slot)) / f"package-{uri.removeprefix('sha256/')[:16]}"
            if not model_dir.is_dir():
                self._unpack(uri, model_dir)
        else:
            raise Invalid(f"model_uri {spec.model_uri!r} is neither a directory nor a stored package",
                          field="model_uri")
        if not (model_dir / "model.onnx").is_file():
            raise Invalid(f"model_uri {spec.model_uri!r} has no model.onnx: deploy a compiled package",
                          field="model_uri")
        return model_dir

    def _unpack(self, key: str, target: Path) -> None:
        assert self.blobs is not None
        tmp = target.with_name(target.name + ".part")
        tmp.mkdir(parents=True, exist_ok=True)
        archive = tmp / "package.tar.gz"
        with open(archive, "wb") as f:
            for chunk in self.blobs.open_range(key):
                f.write(chunk)
        try:
            with tarfile.open(archive) as tar:
                tar.extractall(tmp, filter="data")
        except (tarfile.TarError, OSError) as e:
            raise Invalid(f"model_uri {key!r} is not a package archive: {e}", field="model_uri") from None
        finally:
            archive.unlink(missing_ok=True)
        tmp.replace(target)

    @staticmethod
    def _check_runtime(spec: ServingSpec, model_dir: Path) -> None:
        report = read_json(model_dir / "compile_report.json") or {}
        target = (report.get("recipe") or {}).get("target")
        if target and target != RUNTIME_TARGETS[spec.runtime]:
            raise Invalid(f"runtime {spec.runtime!r} does not match the package (compiled as {target!r})",
                          field="runtime")

    # ---------------------------------------------------------------- records
    def _dir(self, key: tuple[str, str]) -> Path:
        return self.root / key[0] / key[1]

    def _load(self, key: tuple[str, str]) -> dict[str, Any] | None:
        return read_json(self._dir(key) / "state.json")

    def _record(self, key: tuple[str, str]) -> dict[str, Any]:
        check_serving_ids(*key)
        rec = self._load(key)
        if rec is None:
            raise NotFound(f"no serving slot {key[1]!r} for deployment {key[0]!r}", field="slot")
        return rec

    def _save(self, key: tuple[str, str], rec: dict[str, Any]) -> None:
        write_json_atomic(self._dir(key) / "state.json", rec)

    def _read_port(self, key: tuple[str, str]) -> int | None:
        try:
            return int((self._dir(key) / "port").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def _tail(self, key: tuple[str, str]) -> str:
        try:
            lines = (self._dir(key) / "serve.log").read_text(encoding="utf-8", errors="replace").strip().splitlines()
        except OSError:
            return ""
        return lines[-1][-300:] if lines else ""

    @staticmethod
    def _endpoint(rec: dict[str, Any]) -> ServingEndpoint:
        url = f"http://127.0.0.1:{rec['port']}" if rec.get("port") else ""
        return ServingEndpoint(rec["deployment_id"], rec["slot"], url, ServingSpec(**rec["spec"]))


def _killpg(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)
