"""The admit and release steps around every job step of the shipped workflows
(``runtime.workflows.job_slot_states``; the queue itself is ``runtime.services.job_slots``).

Input of both: ``{"run_id": $$.Execution.Name, "step": <job step>, "job": <fixed job name>?,
"owner": {"training_id" | "compile_id" | "job_request": ...}}``; the release on a Catch path adds
``"state": "Failed"``. ``admit_job`` answers ``{"slot", "admitted", "position"}`` (a Choice loops
through a Wait while ``admitted`` is false); ``release_job`` answers ``{"slot", "released"}``."""

from __future__ import annotations

from typing import Any


def _where(doc: dict[str, Any]) -> tuple[str, str, str | None]:
    job = doc.get("job")
    return str(doc["run_id"]), str(doc["step"]), str(job) if job else None


def steps(container: Any) -> dict[str, Any]:
    def admit_job(doc: dict[str, Any]) -> dict[str, Any]:
        return container.job_slots.admit(*_where(doc), owner=doc.get("owner") or {})  # type: ignore[no-any-return]

    def release_job(doc: dict[str, Any]) -> dict[str, Any]:
        return container.job_slots.release(*_where(doc), state=str(doc.get("state") or "Completed"))  # type: ignore[no-any-return]

    return {"admit_job": admit_job, "release_job": release_job}
