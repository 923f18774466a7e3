"""Job supervisor, run as ``python -S _supervise.py <job dir> <config json> -- <command...>``.

Stdlib only and single-threaded (so no ``preexec_fn`` in a threaded server): it applies the
CPU/memory limits to itself (children inherit them), runs the job program, enforces the
runtime limit and the SIGTERM grace period, and writes ``exit.json`` atomically when the
program ends. It lives in the job's own session, so it outlives a killed server and a new
runner can still learn how the job ended.
"""

import json
import os
import resource
import signal
import subprocess
import sys
import time
from typing import Any


def _log(msg: str) -> None:
    sys.stdout.write(f"[tlm-supervisor] {msg}\n")
    sys.stdout.flush()


def _write_exit(job_dir: str, record: dict[str, Any]) -> None:
    tmp = os.path.join(job_dir, ".exit.json.tmp")
    with open(tmp, "w") as f:
        json.dump(record, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, os.path.join(job_dir, "exit.json"))


def main(argv: list[str]) -> int:
    job_dir, cfg = argv[1], json.loads(argv[2])
    cmd = argv[argv.index("--") + 1 :]
    if cfg.get("cores"):
        allowed = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, allowed[: max(1, min(len(allowed), int(cfg["cores"])))])
    if cfg.get("cpu_seconds"):
        soft = int(cfg["cpu_seconds"])
        resource.setrlimit(resource.RLIMIT_CPU, (soft, soft + 5))
    if cfg.get("memory_bytes"):
        mem = int(cfg["memory_bytes"])
        resource.setrlimit(resource.RLIMIT_AS, (mem, mem))

    state: dict[str, float | None] = {"term_at": None}

    def on_term(signum: int, frame: Any) -> None:  # the group got SIGTERM: the child has it too
        if state["term_at"] is None:
            state["term_at"] = time.monotonic()
            _log(f"stop requested (SIGTERM); SIGKILL in {cfg.get('grace_s', 10)}s if still running")

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    try:
        child = subprocess.Popen(cmd)  # noqa: S603 - argv from the runner, no shell
    except OSError as e:
        _log(f"cannot start {cmd[0]}: {e}")
        _write_exit(job_dir, {"exit_code": 127, "error": str(e), "ended_at": time.time()})
        return 127
    deadline = time.monotonic() + float(cfg.get("max_runtime_s") or 1e12)
    grace = float(cfg.get("grace_s", 10))
    timed_out = killed = False
    while True:
        try:
            rc = child.wait(timeout=0.1)
            break
        except subprocess.TimeoutExpired:
            pass
        now = time.monotonic()
        if not timed_out and state["term_at"] is None and now >= deadline:
            timed_out = True
            _log(f"max runtime {cfg.get('max_runtime_s')}s exceeded: stopping the job")
            child.send_signal(signal.SIGTERM)
            state["term_at"] = now
        if state["term_at"] is not None and not killed and now >= state["term_at"] + grace:
            killed = True
            _log("job did not stop in time: SIGKILL")
            child.kill()
    record: dict[str, Any] = {
        "exit_code": rc,
        "timed_out": timed_out,
        "stopped": state["term_at"] is not None and not timed_out,
        "killed": killed,
        "ended_at": time.time(),
    }
    if rc < 0:
        record["signal"] = signal.Signals(-rc).name
    _write_exit(job_dir, record)
    return rc if rc >= 0 else 128 - rc


if __name__ == "__main__":
    sys.exit(main(sys.argv))
