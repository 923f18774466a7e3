"""Compile management (issue 5): start a compile of a library model with a named recipe, follow
it, read its logs, cancel it, download its artifacts.

``start`` checks everything it can before any job runs: the caller may write in the model's
project, the model exists, is a model (not a dataset) and has files, and the recipe and its
parameters are valid (``domain.compiles.recipes``: pydantic only, shipped in the Lambda layer). Then it records
``compile.requested`` and returns: one write. The start-compile-run reaction
(``runtime.reactions.runs``) starts the ``compile`` workflow (validate -> compile job -> verify ->
package job -> record) under the run id the request names. Whether the files can actually be
compiled is the validate step's call.

The workflow's steps write ``compile.started``, ``compile.verified`` and ``compile.succeeded``.
A run that fails or is cancelled ends with the run's own events (``workflowrun.failed``, the
failure-tail's ``workflowrun.failure_recorded``; on AWS the execution-status Lambda appends the
end); the record-run-outcome reaction turns that into ``compile.failed`` (with the recorded
reason) or ``compile.cancelled``. Reads never settle anything: what the log says is the answer.
After a crash the local server resumes the run, and the reactions catch up from their positions.

Logs: the compile's jobs (compile, then package) as one sequence of lines, each job's part
introduced by a ``== <step> job <name> ==`` line; ``start`` indexes into it. Jobs keep their
logs after they end, so a cancelled compile's log can still be read.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from domain.compiles.compile import COMPILES, CancelCompile, Compile, RequestCompile
from domain.errors import Conflict, Invalid, NotFound
from domain.events import new_id
from runtime.ports import BlobStore, EventStore, JobRunner, ViewStore
from runtime.services.access import Access
from runtime.services.commands import Caller, execute, load

if TYPE_CHECKING:
    from runtime.services.library import LibraryService

WORKFLOW = "compile"
RUN_ENDED = ("succeeded", "failed", "cancelled")


def recipe_error(message: str) -> Invalid:
    """``validate_recipe`` says ``"<field>: <problem>"``; name the field as the API sees it."""
    field, _, _ = message.partition(":")
    field = field.strip()
    if field == "target":
        return Invalid(message, field="target")
    return Invalid(message, field=f"params.{field}" if field and " " not in field else "params")


def validate_recipe(target: str, params: dict[str, Any] | None) -> dict[str, Any]:
    from domain.compiles.recipes import validate_recipe as check

    if not isinstance(params, dict):
        raise Invalid("params must be an object", field="params")
    try:
        return check(target, params).model_dump()
    except ValueError as e:
        raise recipe_error(str(e)) from None


def compile_run_input(
    requested: dict[str, Any], *, model_uri: str, output_uri: str, requested_by: str
) -> dict[str, Any]:
    """The ``compile`` workflow's input for a ``compile.requested`` event's data (what the
    start-compile-run reaction passes)."""
    d = requested
    return {
        "compile_id": d["compile_id"],
        "run_id": d["run_id"],
        "project_id": d["project_id"],  # runs are authorized by their project
        "model_id": d["model_id"],
        "model_version_id": f"{d['model_id']}@{d['model_version']}",
        "model_uri": model_uri,
        "target": d["target"],
        "recipe": {k: v for k, v in d["params"].items() if k != "target"},
        "output_uri": output_uri,
        "requested_by": requested_by,
    }


class CompileService:
    """``jobs``, ``runs`` and ``workflows`` are providers: on AWS each needs its own settings, and
    a read (show, list) must not fail because, say, the job runner is not configured."""

    def __init__(
        self,
        *,
        store: EventStore,
        views: ViewStore,
        blobs: BlobStore,
        library: LibraryService,
        jobs: Callable[[], JobRunner],
        runs: Callable[[], Any],
        workflows: Callable[[], Any],
        access: Access,
        cancel_wait_s: float = 15.0,
    ) -> None:
        self.store = store
        self.views = views
        self.blobs = blobs
        self.library = library
        self.jobs = jobs
        self.runs = runs
        self.workflows = workflows
        self.access = access
        self.cancel_wait_s = cancel_wait_s

    # ------------------------------------------------------------------ use cases
    def start(self, caller: Caller, model_id: str, target: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """Record ``compile.requested`` and return: the start-compile-run reaction
        (``runtime.reactions.runs``) starts its run, under the run id recorded here."""
        model = self.library.get_model(caller, model_id)
        self.access.require(caller, model["project_id"], "editor")
        if model.get("kind", "model") != "model":
            raise Invalid(f"{model_id} is a {model.get('kind')}, not a model", field="model_id")
        if not model["files"]:
            raise Invalid(f"model {model_id} has no files to compile", field="model_id")
        recipe = validate_recipe(target, params if params is not None else {})
        compile_id, run_id = new_id()[:16], new_id()
        cmd = RequestCompile(
            compile_id=compile_id,
            project_id=model["project_id"],
            model_id=model_id,
            model_version=model["version"],
            target=target,
            params=recipe,
            run_id=run_id,
        )
        execute(self.store, COMPILES, compile_id, cmd, caller)
        return self.show(caller, compile_id)

    def show(self, caller: Caller, compile_id: str) -> dict[str, Any]:
        state = self._authorized(caller, compile_id, "viewer")
        return self._doc(state)

    def list_for_model(self, caller: Caller, model_id: str) -> list[dict[str, Any]]:
        model = self.library.get_model(caller, model_id)  # NotFound / Forbidden
        rows = sorted((row for _, row in self.views.scan("compiles_by_model", prefix=f"{model_id}/")),
                      key=lambda r: r["at"])  # fmt: skip
        ids = [r["compile_id"] for r in rows]
        out = []
        for cid in reversed(ids):
            state, _ = load(self.store, COMPILES, cid)
            if state.project_id == model["project_id"]:
                doc = self._doc(state, steps=False)
                out.append(doc)
        return out

    def logs(self, caller: Caller, compile_id: str, *, start: int = 0) -> dict[str, Any]:
        if start < 0:
            raise Invalid("must be >= 0", field="start")
        state = self._authorized(caller, compile_id, "viewer")
        lines: list[str] = []
        current = None
        for step, job in self._jobs(state):
            current = job
            lines.append(f"== {step} job {job} ==")
            try:
                got, _ = self.jobs().logs(job, start=0)
            except NotFound:
                got = ["(this job's log is gone)"]
            lines += [ln.rstrip("\n") for ln in got]
        return {
            "compile_id": compile_id,
            "status": state.status,
            "terminal": state.terminal,
            "job": current,
            "lines": lines[start:],
            "next": max(start, len(lines)),
        }

    def cancel(self, caller: Caller, compile_id: str, *, reason: str = "") -> dict[str, Any]:
        state = self._authorized(caller, compile_id, "editor")
        if state.terminal:
            raise Conflict(f"compile {compile_id} is already {state.status}", field="status")
        try:
            run = self.workflows().cancel(state.run_id, reason=reason or "compile cancelled")
        except Conflict:  # the run ended meanwhile: whatever it ended as is the answer
            return self.show(caller, compile_id)
        except NotFound:  # requested, its run not started yet: the start reaction now skips it
            run = None
        step = getattr(run, "current_step", None) or getattr(run, "next_step", None)
        try:
            execute(self.store, COMPILES, compile_id, CancelCompile(reason=reason, step=step), caller, retries=3)
        except Conflict:  # it succeeded (or failed) in the last moment: that stands
            return self.show(caller, compile_id)
        deadline = time.monotonic() + self.cancel_wait_s
        while run is not None and time.monotonic() < deadline and not self._run_finished(state.run_id):
            time.sleep(0.1)
        return self.show(caller, compile_id)

    def download(self, caller: Caller, compile_id: str, path: str) -> dict[str, Any]:
        state = self._authorized(caller, compile_id, "viewer")
        a = state.artifacts.get(path)
        if a is None:
            if state.status != "succeeded":
                raise Conflict(f"compile {compile_id} is {state.status}: no artifacts", field="status")
            raise NotFound(f"no artifact {path!r}; one of {', '.join(sorted(state.artifacts))}", field="path")
        name = path.rsplit("/", 1)[-1]
        return {**a, "path": path, "url": self.blobs.download_url(a["blob"], filename=name)}

    # ------------------------------------------------------------------ helpers
    def _authorized(self, caller: Caller, compile_id: str, role: str) -> Compile:
        state, _ = load(self.store, COMPILES, compile_id)
        if state.status == "new":
            raise NotFound(f"no compile {compile_id!r}", field="compile_id")
        self.access.require(caller, state.project_id, role)
        return state

    def _run(self, run_id: str) -> dict[str, Any] | None:
        """The run as the backend's read side shows it (local events or Step Functions history)."""
        try:
            run: dict[str, Any] = self.runs().show_run(run_id)
        except NotFound:
            return None
        return run

    def _run_finished(self, run_id: str) -> bool:
        run = self._run(run_id)
        return run is not None and run["status"] in RUN_ENDED

    def _jobs(self, state: Compile) -> list[tuple[str, str]]:
        """(step, job name) of every job the run launched, in order."""
        run = self._run(state.run_id)
        out = [(s["step"], s["job"]) for s in (run or {}).get("steps", []) if s.get("job")]
        return out or [(k, v) for k, v in state.jobs.items()]

    def _doc(self, state: Compile, *, steps: bool = True) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "compile_id": state.compile_id,
            "project_id": state.project_id,
            "model_id": state.model_id,
            "model_version": state.model_version,
            "target": state.target,
            "params": state.params,
            "status": state.status,
            "run_id": state.run_id,
            "jobs": dict(self._jobs(state)) if state.run_id else dict(state.jobs),
            "verification": state.verification,
            "report": state.report,
            "manifest": state.manifest,
            "artifacts": state.artifacts,
            "reason": state.reason,
            "error": state.error,
            "failed_step": state.failed_step,
        }
        if steps and state.run_id:
            try:
                run = self.runs().show_run(state.run_id)
                doc["run"] = {k: run[k] for k in ("status", "current_step", "started_at", "ended_at", "duration_s")}
                doc["steps"] = run["steps"]
            except NotFound:
                doc["run"], doc["steps"] = None, []
        return doc
