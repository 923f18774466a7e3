"""Architecture tests as jobs: start ``jobs.arch_test`` for a derived config and read its status,
logs and side-by-side report.

Authorization: starting needs "write" on the config's project (it spends compute), reading a
job needs "read" there. The job name carries the config id (``archtest-<config id>-<suffix>``),
so a status or log request is authorized against the config's project without a job table;
names that do not have that shape are NotFound (other jobs are not readable through here).

Limits: both models (child and parent) are checked against the project's parameter and memory
limits before the job starts (``check_model``); the job carries its user and project so the job
queue (``runtime.services.job_queue``) counts it against their caps. ``cancel`` stops it (a
queued test leaves the queue).

Where the report lives: the job writes ``<output>/arch_test.json``. The local runner keeps it in
``<root>/<job>/output/data``; another runner can be given ``read_report(job_name) -> dict|None``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from domain.errors import Conflict, Invalid, NotFound
from domain.events import new_id
from runtime.ports import JobRunner, JobSpec
from runtime.services.commands import Caller
from runtime.services.job_queue import PROJECT_ENV, USER_ENV

Authorize = Callable[[Caller, str, str], None]
PROGRAM = "arch_test"
PREFIX = "archtest"
_NAME = re.compile(rf"^{PREFIX}-([0-9a-f]{{12}})-[0-9a-f]{{8}}$")
LIMITS = {"batch_size": (1, 64), "seq_len": (8, 4096), "repeats": (1, 50), "num_threads": (1, 64)}
MAX_TEXT = 20_000


class ArchTestService:
    def __init__(
        self,
        configs: Any,  # runtime.services.configs.ConfigService
        runner: JobRunner,
        authorize: Authorize,
        *,
        read_report: Callable[[str], dict[str, Any] | None] | None = None,
        max_runtime_s: int = 900,
        cpu_limit: float | None = None,
        check_model: Callable[[str, dict[str, Any]], Any] | None = None,
    ) -> None:
        self.configs = configs
        self.runner = runner
        self.authorize = authorize
        self.read_report = read_report or self._local_report
        self.max_runtime_s = max_runtime_s
        self.cpu_limit = cpu_limit
        self.check_model = check_model  # (project id, config values) -> estimate, or TooLarge

    # ---------------------------------------------------------------- helpers
    def _local_report(self, name: str) -> dict[str, Any] | None:
        root = getattr(self.runner, "root", None)
        if root is None:
            return None
        path = Path(root) / name / "output" / "data" / "arch_test.json"
        try:
            report = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return report if isinstance(report, dict) else None

    def _config_of(self, caller: Caller, name: str) -> str:
        m = _NAME.match(name or "")
        if not m:
            raise NotFound(f"no architecture test job {name!r}", field="name")
        config_id = m.group(1)
        self.configs.history(caller, config_id)  # NotFound / Forbidden: read on its project
        return config_id

    @staticmethod
    def _options(config: dict[str, Any], parent: dict[str, Any], options: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in options.items():
            if value is None:
                continue
            if key in LIMITS:
                lo, hi = LIMITS[key]
                if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
                    raise Invalid(f"must be an integer from {lo} to {hi}", field=key)
            elif key == "text":
                if not isinstance(value, str) or not value.strip() or len(value) > MAX_TEXT:
                    raise Invalid(f"must be non-empty text of at most {MAX_TEXT} characters", field=key)
            else:
                raise Invalid(f"unknown option {key!r}", field=key)
            out[key] = value
        seq = out.get("seq_len", 32)
        for which, values in (("config", config), ("parent", parent)):
            limit = (values.get("architecture") or {}).get("max_position_embeddings")
            if isinstance(limit, int) and seq > limit:
                raise Invalid(
                    f"seq_len {seq} exceeds the {which}'s max_position_embeddings {limit}", field="seq_len"
                )
        return out

    # ---------------------------------------------------------------- use cases
    def start(self, caller: Caller, config_id: str, **options: Any) -> dict[str, Any]:
        """Start the test of a derived config against its parent; returns the job name."""
        config = self.configs.get(caller, config_id)
        self.authorize(caller, config["project_id"], "write")
        hp = self.configs.arch_test_hyperparameters(caller, config_id)
        opts = self._options(hp["child"], hp["parent"], options)
        if self.check_model is not None:
            for values in (hp["child"], hp["parent"]):
                self.check_model(config["project_id"], values)
        name = f"{PREFIX}-{config_id}-{new_id()[:8]}"
        spec = JobSpec(
            name=name,
            program=PROGRAM,
            hyperparameters={**hp, **opts},
            instance_type="ml.m5.xlarge",
            max_runtime_s=self.max_runtime_s,
            cpu_limit=self.cpu_limit,
            environment={USER_ENV: caller.user_id, PROJECT_ENV: config["project_id"]},
        )
        self.runner.start(spec)
        lineage = config["derived_from"] or {}
        return {
            "job_name": name,
            "config_id": config_id,
            "parent_id": lineage.get("config_id"),
            "parent_version": lineage.get("version"),
            "options": opts,
        }

    def status(self, caller: Caller, name: str) -> dict[str, Any]:
        config_id = self._config_of(caller, name)
        st = self.runner.describe(name)
        return {
            "job_name": name,
            "config_id": config_id,
            "program": PROGRAM,
            "state": st.state,
            "failure_reason": st.failure_reason,
            "started_at": st.started_at.isoformat() if st.started_at else None,
            "ended_at": st.ended_at.isoformat() if st.ended_at else None,
            "metrics": st.metrics,
            "queue_position": st.queue_position,
            "report": self.read_report(name) if st.state == "Completed" else None,
        }

    def cancel(self, caller: Caller, name: str) -> dict[str, Any]:
        """Stop the test (SIGTERM locally, StopTrainingJob on SageMaker; a queued one leaves the
        queue). Needs "write" on the config's project; Conflict once it has ended."""
        config_id = self._config_of(caller, name)
        config = self.configs.get(caller, config_id)
        self.authorize(caller, config["project_id"], "write")
        st = self.runner.describe(name)
        if st.state in ("Completed", "Failed", "Stopped"):
            raise Conflict(f"job {name} already {st.state}", field="name")
        self.runner.stop(name)
        return self.status(caller, name)

    def logs(self, caller: Caller, name: str, *, start: int = 0) -> dict[str, Any]:
        if start < 0:
            raise Invalid("must be >= 0", field="start")
        self._config_of(caller, name)
        lines, nxt = self.runner.logs(name, start=start)
        return {"job_name": name, "lines": lines, "next": nxt}
