"""JobRunner on this machine: each job is a subprocess in its own session, under a small
supervisor (``_supervise.py``) that applies the limits, enforces the runtime and the stop
grace period and records the exit in ``exit.json``.

State lives in ``<root>/<job>/status.json`` (atomic writes), so a new runner instance (after a
server restart) describes old jobs; ``reconcile()`` fails jobs whose process is gone and
finishes jobs that ended while no runner was watching. Nothing stays InProgress forever.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from domain.errors import Conflict, Invalid, NotFound
from runtime.adapters.local_jobs.layout import check_local_spec, job_environment, prepare_job_dir
from runtime.adapters.local_jobs.logs import LogFile, file_metrics
from runtime.adapters.local_jobs.state import (
    boot_id,
    process_start_ticks,
    read_json,
    same_process_alive,
    write_json_atomic,
)
from runtime.adapters.sagemaker.requests import validate_job_name
from runtime.ports import JobSpec, JobStatus

DEFAULT_PROGRAMS = {
    "train": "jobs.train",
    "evaluate": "jobs.evaluate",
    "compile": "jobs.compile",
    "package": "jobs.package",
    "arch_test": "jobs.arch_test",
    "pretrain": "jobs.pretrain",
}
# jobs.* programs start as the jobs image starts them: `train` = python -m jobs.entry train,
# the program named by TLM_JOB_PROGRAM (jobs/entry.py)
JOBS_PACKAGE, ENTRY_MODULE, PROGRAM_ENV = "jobs.", "jobs.entry", "TLM_JOB_PROGRAM"
SUPERVISOR = Path(__file__).with_name("_supervise.py")
ACTIVE = frozenset({"Pending", "InProgress", "Stopping"})
GONE = "runner restarted; process gone"
LogSink = Callable[[str, Path, JobStatus], None]


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


class LocalJobRunner:
    def __init__(
        self,
        root: Path,
        python: str = sys.executable,
        programs: Mapping[str, str] | None = None,
        *,
        grace_s: float = 10.0,
        copy_channels: bool = False,
        parent_env: Mapping[str, str] | None = None,
    ) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.python = python
        self.programs = dict(DEFAULT_PROGRAMS if programs is None else programs)
        self.grace_s = grace_s
        self.copy_channels = copy_channels
        self._parent_env = parent_env
        self._lock = threading.RLock()
        self._procs: dict[str, subprocess.Popen[bytes]] = {}
        self._threads: dict[str, threading.Thread] = {}
        self._logs: dict[str, LogFile] = {}
        self._sinks: list[LogSink] = []

    # ---------------------------------------------------------------- setup
    def register_program(self, name: str, target: str) -> None:
        """``target``: a module (run as ``python -m``) or a path to a ``.py`` script."""
        self.programs[name] = target

    def attach_log_sink(self, sink: LogSink) -> None:
        """``sink(name, log_path, final_status)`` runs once per job after it ends (e.g. to copy
        the log into the blob store). Errors in a sink are logged into the job log, not raised."""
        self._sinks.append(sink)

    # ---------------------------------------------------------------- port
    def start(self, spec: JobSpec) -> str:
        validate_job_name(spec.name)
        target = self.programs.get(spec.program)
        if target is None:
            raise Invalid(f"unknown program {spec.program!r}", field="program")
        check_local_spec(spec)
        job_dir = self.root / spec.name
        try:
            job_dir.mkdir()
        except FileExistsError:
            raise Conflict(f"job {spec.name!r} already exists", field="name") from None
        with self._lock:
            record: dict[str, Any] = {
                "name": spec.name,
                "program": spec.program,
                "state": "Pending",
                "created_at": _now(),
                "spec": asdict(spec),
                "boot_id": boot_id(),
                "stop_requested": False,
            }
            self._save(spec.name, record)
            try:
                channels = prepare_job_dir(job_dir, spec, copy_channels=self.copy_channels)
                env = job_environment(job_dir, spec, channels, self._parent_env)
                proc = self._spawn(job_dir, spec, target, env)
            except OSError as e:
                record.update(state="Failed", failure_reason=f"could not start: {e}", ended_at=_now())
                self._save(spec.name, record)
                return spec.name
            record.update(
                state="InProgress", pid=proc.pid, pid_start=process_start_ticks(proc.pid), started_at=_now()
            )
            self._save(spec.name, record)
            self._procs[spec.name] = proc
            t = threading.Thread(
                target=self._watch, args=(spec.name, proc, spec), daemon=True, name=f"job-{spec.name}"
            )
            self._threads[spec.name] = t
            t.start()
        return spec.name

    def describe(self, name: str) -> JobStatus:
        record = self._check(name)
        metrics = dict(record.get("metrics") or {})
        if record["state"] in ACTIVE:
            metrics = {**self._log(name, record).metrics(), **file_metrics(self.root / name)}
        return JobStatus(
            name=name,
            state=record["state"],
            failure_reason=record.get("failure_reason"),
            started_at=_dt(record.get("started_at")),
            ended_at=_dt(record.get("ended_at")),
            metrics=metrics,
            model_artifacts=record.get("model_artifacts"),
        )

    def stop(self, name: str) -> None:
        with self._lock:
            record = self._check(name)
            if record["state"] not in ACTIVE or record.get("stop_requested"):
                return
            record.update(stop_requested=True, state="Stopping")
            self._save(name, record)
            alive = self._signal(record, signal.SIGTERM)
        if alive and name not in self._procs:  # an adopted job: nobody else will escalate
            threading.Thread(target=self._kill_later, args=(record,), daemon=True).start()

    def logs(self, name: str, *, start: int = 0) -> tuple[list[str], int]:
        record = self._check(name)
        return self._log(name, record).lines(start, final=record["state"] not in ACTIVE)

    # ---------------------------------------------------------------- restart
    def reconcile(self) -> list[str]:
        """Settle every active job this runner does not watch: finish those that ended (their
        exit.json), fail those whose process is gone. Returns the names it changed."""
        changed = []
        for job_dir in sorted(p for p in self.root.iterdir() if (p / "status.json").exists()):
            before = read_json(job_dir / "status.json") or {}
            after = self._check(job_dir.name)
            if after.get("state") != before.get("state"):
                changed.append(job_dir.name)
        return changed

    def wait(self, name: str, timeout: float | None = None) -> JobStatus:
        """Block until the job has ended (tests and the local workflow runner)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            status = self.describe(name)
            if status.state not in ACTIVE:
                return status
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"job {name!r} still {status.state}")
            t = self._threads.get(name)
            if t is not None:
                t.join(0.05)
            else:
                time.sleep(0.05)

    # ---------------------------------------------------------------- internals
    def _spawn(
        self, job_dir: Path, spec: JobSpec, target: str, env: dict[str, str]
    ) -> subprocess.Popen[bytes]:
        if target.endswith(".py") or "/" in target:  # a script (tests' fake jobs)
            program = [self.python, target]
        elif target.startswith(JOBS_PACKAGE):  # through the image's entry point, as SageMaker runs it
            program = [self.python, "-m", ENTRY_MODULE, "train"]
            env = {**env, PROGRAM_ENV: target}
        else:
            program = [self.python, "-m", target]
        cfg = {
            "max_runtime_s": spec.max_runtime_s,
            "grace_s": self.grace_s,
            "cores": spec.cpu_limit and max(1, int(-(-spec.cpu_limit // 1))),
            # CPU seconds: the cores it may use for as long as it may run (plus start-up).
            "cpu_seconds": spec.cpu_limit and int(spec.cpu_limit * spec.max_runtime_s) + 10,
            "memory_bytes": spec.memory_limit_mb and spec.memory_limit_mb * 1024 * 1024,
        }
        cmd = [self.python, "-S", str(SUPERVISOR), str(job_dir), json.dumps(cfg), "--", *program]
        with open(job_dir / "logs.txt", "ab") as log:
            return subprocess.Popen(  # noqa: S603 - argv list from registered programs, no shell
                cmd,
                cwd=job_dir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                close_fds=True,
            )

    def _watch(self, name: str, proc: subprocess.Popen[bytes], spec: JobSpec) -> None:
        # The supervisor enforces runtime and grace; this only backs it up if it hangs.
        hard_deadline = time.monotonic() + spec.max_runtime_s + self.grace_s + 10
        while True:
            try:
                rc = proc.wait(timeout=0.5)
                break
            except subprocess.TimeoutExpired:
                pass
            record = self._load(name) or {}
            stopped_at = record.get("stop_requested_at")
            late = stopped_at is not None and time.time() > stopped_at + self.grace_s + 5
            if late or time.monotonic() > hard_deadline:
                self._killpg(proc.pid, signal.SIGKILL)
        with self._lock:
            self._killpg(proc.pid, signal.SIGKILL)  # stragglers left in the job's group
            record = self._load(name) or {}
            final = self._finish(name, record, rc)
            self._procs.pop(name, None)
        self._run_sinks(name, final)

    def _check(self, name: str) -> dict[str, Any]:
        """The job's record, settled if it ended while nobody was watching it."""
        validate_job_name(name)
        with self._lock:
            record = self._load(name)
            if record is None:
                raise NotFound(f"no job {name!r}", field="name")
            if record["state"] not in ACTIVE or name in self._procs:
                return record
            job_dir = self.root / name
            if (job_dir / "exit.json").exists():
                final = self._finish(name, record, None)
            elif record["state"] == "Pending" or not same_process_alive(
                record.get("pid"), record.get("pid_start"), record.get("boot_id")
            ):
                created = datetime.fromisoformat(record["created_at"]).timestamp()
                if record["state"] == "Pending" and time.time() - created < 30:
                    return record  # another runner is still starting it
                final = self._finish(name, record, None, gone=True)
            else:
                return record  # still running, adopted: exit.json will settle it
        self._run_sinks(name, final)
        return self._load(name) or record

    def _finish(self, name: str, record: dict[str, Any], rc: int | None, *, gone: bool = False) -> JobStatus:
        job_dir = self.root / name
        spec = record.get("spec") or {}
        ex = read_json(job_dir / "exit.json")
        reason = None
        if ex is None and (gone or rc is None):
            state, reason = ("Stopped", None) if record.get("stop_requested") else ("Failed", GONE)
        elif ex is not None and ex.get("timed_out"):
            state, reason = "Failed", f"MaxRuntimeExceeded: ran longer than {spec.get('max_runtime_s')}s"
        elif record.get("stop_requested") or (ex or {}).get("stopped"):
            state = "Stopped"
        else:
            code = ex.get("exit_code") if ex else rc
            if code == 0:
                state = "Completed"
            else:
                state, reason = "Failed", self._failure_reason(job_dir, code, ex, spec)
        record.update(
            state=state, failure_reason=reason, ended_at=(record.get("ended_at") or _now()), exit=ex, pid=None
        )
        record["metrics"] = {**self._log(name, record).metrics(), **file_metrics(job_dir)}
        if state == "Completed":
            record["model_artifacts"] = self._publish_model(job_dir, spec)
        self._save(name, record)
        return self.describe(name)

    def _failure_reason(
        self, job_dir: Path, code: int | None, ex: dict[str, Any] | None, spec: dict[str, Any]
    ) -> str:
        try:
            text = (job_dir / "output" / "failure").read_text(encoding="utf-8", errors="replace").strip()
        except OSError:
            text = ""
        if text:
            return text[:2000]
        sig = (ex or {}).get("signal")
        if code is not None and code < 0 and not sig:
            sig = signal.Signals(-code).name
        what = f"killed by {sig}" if sig else f"exit code {code}"
        if sig == "SIGXCPU":
            what += f" (CPU time limit for {spec.get('cpu_limit')} cores)"
        lines, _ = self._log(job_dir.name, {"spec": spec}).lines(0, final=True)
        last = next((ln for ln in reversed(lines) if ln.strip() and not ln.startswith("[tlm-")), "")
        if "MemoryError" in last and spec.get("memory_limit_mb"):
            what += f" (memory limit {spec['memory_limit_mb']} MB)"
        return f"{what}: {last.strip()}"[:2000] if last else what

    def _publish_model(self, job_dir: Path, spec: dict[str, Any]) -> str:
        out = spec.get("output_uri")
        if not out:
            return str(job_dir / "model")
        dest = Path(out) / job_dir.name / "model"
        shutil.copytree(job_dir / "model", dest, dirs_exist_ok=True)
        return str(dest)

    def _signal(self, record: dict[str, Any], sig: signal.Signals) -> bool:
        pid = record.get("pid")
        proc = self._procs.get(record["name"])
        if proc is not None and proc.poll() is None:
            self._killpg(proc.pid, sig)
            record["stop_requested_at"] = time.time()
            self._save(record["name"], record)
            return True
        if pid and same_process_alive(pid, record.get("pid_start"), record.get("boot_id")):
            self._killpg(int(pid), sig)
            return True
        return False

    def _kill_later(self, record: dict[str, Any]) -> None:
        time.sleep(self.grace_s + 2)
        if same_process_alive(record.get("pid"), record.get("pid_start"), record.get("boot_id")):
            self._killpg(record["pid"], signal.SIGKILL)

    @staticmethod
    def _killpg(pgid: int, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, sig)

    def _run_sinks(self, name: str, status: JobStatus) -> None:
        for sink in self._sinks:
            try:
                sink(name, self.root / name / "logs.txt", status)
            except Exception as e:  # a sink must not break the runner; leave a trace in the log
                with open(self.root / name / "logs.txt", "a", encoding="utf-8") as f:
                    f.write(f"[tlm-runner] log sink failed: {e!r}\n")

    def _log(self, name: str, record: dict[str, Any]) -> LogFile:
        log = self._logs.get(name)
        if log is None:
            defs = (record.get("spec") or {}).get("metric_definitions") or []
            log = self._logs[name] = LogFile(self.root / name / "logs.txt", defs)
        return log

    def _load(self, name: str) -> dict[str, Any] | None:
        return read_json(self.root / name / "status.json")

    def _save(self, name: str, record: dict[str, Any]) -> None:
        write_json_atomic(self.root / name / "status.json", record)
