"""Masked-LM pretraining of a template on the unlabeled texts of library entries; the result is
registered as a library model that ``train start --model`` fine-tunes (all offline).

``start`` checks before any job: the template exists and its family has a masked-LM head
(``jobs.pretrain.MLM_FAMILIES``), the overrides validate, 1 to 8 library entries of the project
each hold text files (``.jsonl`` / ``.csv`` with a ``text`` field — a dataset's labels are
ignored and its ``test`` split is left out — or plain ``.txt``, one text per line), the name is
free for a model. Then it lays each entry out as a channel ``text<i>`` and starts the ``pretrain``
job. ``status`` reports the job (with percent done / ETA from its metric lines) and, once it
completed, registers its model dir once (``source = "pretrain-job:<job>"``, tags ``pretrained``)
— like the demo importer, the registration is idempotent per job (found again by its source).
"""

from __future__ import annotations

import json
import time
from typing import Any

from domain.configs import paths
from domain.configs.templates import get_template
from domain.configs.validation import violations
from domain.errors import Conflict, Invalid, NotFound
from domain.events import new_id
from domain.library.values import clean_name
from domain.trainings import MLM_FAMILIES
from runtime.ports import JobSpec
from runtime.services.commands import Caller

PROGRAM = "pretrain"
TARGET = "jobs.pretrain"
PREFIX = "pretrain"
SOURCE = "pretrain-job:"
TEXT_SUFFIXES = (".jsonl", ".csv", ".txt")
MAX_ENTRIES = 8
MAX_STEPS = 200_000


class PretrainService:
    def __init__(self, container: Any, *, wait_s: float = 900.0) -> None:
        self.c = container
        self.wait_s = wait_s

    def _runner(self) -> Any:
        jobs = self.c.jobs
        if PROGRAM not in getattr(jobs, "programs", {PROGRAM: None}):
            jobs.register_program(PROGRAM, TARGET)
        return jobs

    def _entry(self, caller: Caller, project_id: str, entry_id: str) -> dict[str, Any]:
        try:
            entry = self.c.library.get_model(caller, entry_id)
        except NotFound as e:
            raise NotFound(e.message, field="dataset_ids") from None
        if entry["project_id"] != project_id:
            raise Invalid(f"{entry_id} belongs to another project", field="dataset_ids")
        texts = [f["path"] for f in entry["files"] if f["path"].lower().endswith(TEXT_SUFFIXES)]
        if not texts:
            raise Invalid(
                f"{entry['name']!r} ({entry_id}) has no text files ({', '.join(TEXT_SUFFIXES)})", field="dataset_ids"
            )
        return dict(entry)

    def start(
        self,
        caller: Caller,
        project_id: str,
        *,
        template: str,
        dataset_ids: list[str],
        name: str,
        max_steps: int = 500,
        batch_size: int = 32,
        learning_rate: float = 1e-3,
        time_budget_s: int = 0,
        overrides: dict[str, Any] | None = None,
        wait: bool = False,
    ) -> dict[str, Any]:
        self.c.library.access.require(caller, project_id, "editor")
        name = clean_name(name)
        try:
            values = json.loads(json.dumps(get_template(template).values))
        except NotFound as e:
            raise NotFound(e.message, field="template") from None
        if values["family"] not in MLM_FAMILIES:
            raise Invalid(f"{template}: {values['family']} has no masked-LM pretraining here; use one of "
                          f"{list(MLM_FAMILIES)}", field="template")  # fmt: skip
        for path, value in (overrides or {}).items():
            values = paths.set_(values, path, value)
        found = violations(values)
        if found:
            raise Invalid(f"{found[0].field}: {found[0].message}", field=f"overrides.{found[0].field}")
        if not 1 <= len(dataset_ids) <= MAX_ENTRIES or len(set(dataset_ids)) != len(dataset_ids):
            raise Invalid(f"1 to {MAX_ENTRIES} distinct library entries", field="dataset_ids")
        if not 1 <= max_steps <= MAX_STEPS:
            raise Invalid(f"must be from 1 to {MAX_STEPS}", field="max_steps")
        if not 1 <= batch_size <= 4096:
            raise Invalid("must be from 1 to 4096", field="batch_size")
        if not 0 < learning_rate < 1:
            raise Invalid("must be in (0, 1)", field="learning_rate")
        if not 0 <= time_budget_s <= 7 * 86400:
            raise Invalid("must be from 0 (none) to 604800", field="time_budget_s")
        entries = [self._entry(caller, project_id, d) for d in dataset_ids]
        self.c.catch_up()
        self.c.training._name_free(project_id, name)
        job = f"{PREFIX}-{project_id}-{new_id()[:8]}"
        channels = {f"text{i}": self.c.artifacts.materialize(e["model_id"], f"{job}/text{i}")
                    for i, e in enumerate(entries)}  # fmt: skip
        hp = {"config": json.dumps(values, ensure_ascii=False), "channels": ",".join(channels),
              "max_steps": max_steps, "batch_size": batch_size, "learning_rate": learning_rate,
              "time_budget_s": time_budget_s, "name": name, "template": template,
              "datasets": ",".join(dataset_ids), "log_every": 20}  # fmt: skip
        spec = JobSpec(name=job, program=PROGRAM, hyperparameters=hp, channels=channels, instance_type="ml.g5.xlarge",
                       max_runtime_s=max(600, 2 * time_budget_s) if time_budget_s else 6 * 3600)  # fmt: skip
        self._runner().start(spec)
        if not wait:
            return self.status(caller, project_id, job)
        deadline = time.monotonic() + self.wait_s
        while time.monotonic() < deadline:
            out = self.status(caller, project_id, job)
            if out["state"] not in ("Pending", "InProgress", "Stopping"):
                return out
            time.sleep(0.3)
        return self.status(caller, project_id, job)

    def _registered(self, project_id: str, source: str) -> str | None:
        self.c.catch_up()
        for _, row in self.c.views.scan("models"):
            if row.get("kind", "model") == "model" and row["project_id"] == project_id and row.get("source") == source:
                return str(row["model_id"])
        return None

    def _spec_hp(self, job: str) -> dict[str, Any]:
        from pathlib import Path

        root = getattr(self.c.jobs, "root", None)
        if root is None:
            return {}
        try:
            doc = json.loads((Path(root) / job / "status.json").read_text(encoding="utf-8"))
            return dict(doc["spec"]["hyperparameters"])
        except (OSError, ValueError, KeyError, TypeError):
            return {}

    def status(self, caller: Caller, project_id: str, job: str) -> dict[str, Any]:
        self.c.library.access.require(caller, project_id, "viewer")
        if not job.startswith(f"{PREFIX}-{project_id}-"):
            raise NotFound(f"no pretraining {job!r} in this project", field="job_name")
        st = self.c.jobs.describe(job)
        m = dict(st.metrics)
        out: dict[str, Any] = {
            "job_name": job, "state": st.state, "failure_reason": st.failure_reason, "model_id": None,
            "progress": {"percent": m.get("progress_pct"), "eta_s": m.get("eta_s")},
            "metrics": {k: m[k] for k in ("mlm_loss", "mlm_accuracy") if k in m},
        }  # fmt: skip
        if st.state != "Completed":
            return out
        source = f"{SOURCE}{job}"
        found = self._registered(project_id, source)
        if found:
            return {**out, "model_id": found}
        self.c.library.access.require(caller, project_id, "editor")
        hp = self._spec_hp(job)
        values = json.loads(hp["config"]) if isinstance(hp.get("config"), str) else {}
        try:
            model_id = self.c.artifacts.ingest_dir(
                caller, project_id, st.model_artifacts, name=str(hp.get("name") or job),
                family=str(values.get("family") or "other"),
                description=f"masked-LM pretrained from template {hp.get('template')} on {hp.get('datasets')} "
                f"({hp.get('max_steps')} steps max) by job {job}",
                tags=["pretrained"], source=source, kind="model",
            )  # fmt: skip
        except Conflict:  # a concurrent poll registered it first
            found = self._registered(project_id, source)
            if found:
                return {**out, "model_id": found}
            raise
        return {**out, "model_id": model_id}
