"""The SageMaker training-container contract, shared by every program in ``jobs/``.

Paths (all under a root, env ``TLM_JOB_ROOT``, default ``/opt/ml``; SageMaker's own env vars win):

- hyperparameters: env ``SM_HPS`` (JSON) or ``<root>/input/config/hyperparameters.json``.
  SageMaker passes every value as a string; :func:`hp` decodes JSON-looking values.
- channels: env ``SM_CHANNEL_<NAME>`` or ``<root>/input/data/<name>``
- model dir: ``SM_MODEL_DIR`` or ``<root>/model`` (what becomes ``model.tar.gz``)
- output data: ``SM_OUTPUT_DATA_DIR`` or ``<root>/output/data`` (``metrics.json`` goes here)
- checkpoints: ``SM_CHECKPOINT_DIR`` or ``<root>/checkpoints`` (synced to S3 for managed spot)
- failure: ``<root>/output/failure`` holds the reason when a program fails (exit code 1).

Metrics are log lines ``metric: <name>=<value> step=<n>``; :func:`metric_definitions` gives the
regex per name for a SageMaker ``MetricDefinitions`` list. SIGTERM (stop, prune, spot interruption)
sets :data:`STOP` (:func:`prune_requested`) so the program can checkpoint and exit with code 143.

This module imports only the standard library.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from domain.jobs import METRIC_NAMES

METRIC_PREFIX = "metric: "
_NUMBER = r"([-+]?(?:[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?|nan|inf))"
EXIT_STOPPED = 143  # 128 + SIGTERM, what a stopped container reports


class JobError(Exception):
    """Bad input or a failed check: the message becomes the failure reason, no traceback."""


class Stopped(Exception):
    """Raised after a SIGTERM once the program has saved what it needs."""


def metric_regex(name: str) -> str:
    return rf"metric: {name}={_NUMBER}"


def metric_definitions(names: tuple[str, ...] | list[str] = METRIC_NAMES) -> list[dict[str, str]]:
    return [{"Name": n, "Regex": metric_regex(n)} for n in names]


METRIC_DEFINITIONS = metric_definitions()


def root() -> Path:
    return Path(os.environ.get("TLM_JOB_ROOT", "/opt/ml"))


def model_dir() -> Path:
    return _ensure(Path(os.environ.get("SM_MODEL_DIR") or root() / "model"))


def output_data_dir() -> Path:
    return _ensure(Path(os.environ.get("SM_OUTPUT_DATA_DIR") or root() / "output" / "data"))


def checkpoint_dir() -> Path:
    return _ensure(Path(os.environ.get("SM_CHECKPOINT_DIR") or root() / "checkpoints"))


def failure_file() -> Path:
    return root() / "output" / "failure"


def channel(name: str, *, required: bool = False) -> Path | None:
    env = os.environ.get(f"SM_CHANNEL_{name.upper()}")
    path = Path(env) if env else root() / "input" / "data" / name
    if path.exists():
        return path
    if required:
        raise JobError(f"missing input channel '{name}' (set SM_CHANNEL_{name.upper()} or {path})")
    return None


def _ensure(p: Path) -> Path:
    p.mkdir(parents=True, exist_ok=True)
    return p


def _decode(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    s = value.strip()
    if s[:1] in "[{\"" or s in ("true", "false", "null") or _looks_numeric(s):
        try:
            return json.loads(s)
        except ValueError:
            return value
    return value


def _looks_numeric(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return False
    return True


def hyperparameters() -> dict[str, Any]:
    raw = os.environ.get("SM_HPS")
    if raw:
        data = json.loads(raw)
    else:
        path = root() / "input" / "config" / "hyperparameters.json"
        data = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    if not isinstance(data, dict):
        raise JobError("hyperparameters must be a JSON object")
    return {k: _decode(v) for k, v in data.items()}


class Metrics:
    """Prints metric lines and keeps ``<output>/metrics.json`` up to date (latest + history)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or output_data_dir() / "metrics.json"
        self.latest: dict[str, float] = {}
        self.history: list[dict[str, Any]] = []
        self.info: dict[str, Any] = {}

    def log(self, step: int, flush: bool = True, **values: float) -> None:
        for name, value in values.items():
            v = float(value)
            print(f"{METRIC_PREFIX}{name}={v:.6g} step={step}", flush=True)
            self.latest[name] = v
            self.history.append({"name": name, "value": v, "step": step, "time": time.time()})
        if flush:
            self.flush()

    def flush(self) -> None:
        doc = {"metrics": self.latest, "history": self.history, **self.info}
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(doc, indent=1), encoding="utf-8")
        tmp.replace(self.path)


STOP = threading.Event()


def _on_sigterm(signum: int, frame: Any) -> None:  # noqa: ARG001
    print("SIGTERM received: stopping at the next safe point", flush=True)
    STOP.set()


def prune_requested() -> bool:
    """True once the platform asked this job to end early. A pruned trial is stopped through
    ``JobRunner.stop`` like any other stop: SIGTERM from the local runner, ``StopTrainingJob``
    on SageMaker (which sends the container SIGTERM). So the same signal works on both backends,
    where a file the runner wrote could not reach a SageMaker container. A program that sees it
    saves a checkpoint and raises :class:`Stopped` (exit 143, state Stopped): its intermediate
    results stay in ``output/`` for whoever pruned it."""
    return STOP.is_set()


def write_failure(reason: str) -> None:
    try:
        f = failure_file()
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(reason[:4000], encoding="utf-8")
    except OSError:
        pass


def run(main: Callable[[dict[str, Any]], Any]) -> None:
    """Entry-point wrapper: hyperparameters in, failure file + exit code out."""
    signal.signal(signal.SIGTERM, _on_sigterm)
    os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        main(hyperparameters())
    except Stopped as e:
        print(f"stopped: {e}", flush=True)
        sys.exit(EXIT_STOPPED)
    except (JobError, ValueError) as e:
        msg = f"{type(e).__name__}: {e}"
        print(f"FAILED {msg}", file=sys.stderr, flush=True)
        write_failure(msg)
        sys.exit(1)
    except Exception as e:  # noqa: BLE001 - any crash must leave a failure file
        tb = traceback.format_exc()
        print(tb, file=sys.stderr, flush=True)
        write_failure(f"{type(e).__name__}: {e}\n{tb[-3000:]}")
        sys.exit(1)
