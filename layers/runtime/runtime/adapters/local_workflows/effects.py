"""The effects of the local runner's states: jobs, step functions, waits, record tasks, Map and
Parallel fan-out (one thread per running item, ``max_concurrency`` at once, each item's jobs
concurrent subprocesses through the JobRunner) and child runs. What comes next is always the
interpreter's (``domain.workflows.interpreter``); items and branches run its loop inline.

Mixed into ``LocalWorkflowRunner``, which provides the journal (``_record`` / ``_progress`` /
``_flush``), ``start`` / ``cancel`` / ``state`` and the settings used here.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

from domain.errors import Conflict, NotFound
from domain.events import event_class
from domain.workflows import events as ev
from domain.workflows import interpreter as interp
from domain.workflows import model as m
from domain.workflows import paths
from runtime.ports import JobSpec
from runtime.workflows.asl import substitute

log = logging.getLogger(__name__)
MAX_INLINE_CONCURRENCY = 40  # max_concurrency 0 ("no limit"): an inline Map on AWS runs 40 at most


class _Cancelled(Exception):
    """The run is being cancelled."""


class _Aborted(Exception):
    """The Map / Parallel this item belongs to has failed already: stop the item."""


@dataclass(frozen=True)
class _Scope:
    """Where a state runs: the run's own sequence (``index`` None), or item / branch ``index``
    of the top-level Map / Parallel step ``step`` (nested fan-outs keep the outer index)."""

    step: str | None = None
    attempt: int = 1
    index: int | None = None
    aborts: tuple[threading.Event, ...] = ()
    path: str = ""  # where inside the run (derives child run ids)

    @property
    def top(self) -> bool:
        return self.index is None

    def aborted(self) -> bool:
        return any(a.is_set() for a in self.aborts)


class Effects:
    # provided by LocalWorkflowRunner (which overrides the methods below)
    jobs: Any
    steps: dict[str, Any]
    substitutions: dict[str, str]
    poll_interval_s: float
    time_scale: float
    _lock: threading.Lock
    _runs: dict[str, Any]

    def _progress(self, run: Any, event: Any, *, durable: bool = False) -> None:
        raise NotImplementedError

    def _flush(self, run: Any) -> None:
        raise NotImplementedError

    def start(
        self, workflow: str, input: dict[str, Any], *, run_id: str | None = None, parent_run_id: str | None = None
    ) -> str:
        raise NotImplementedError

    def cancel(self, run_id: str, *, reason: str = "") -> Any:
        raise NotImplementedError

    def state(self, run_id: str) -> Any:
        raise NotImplementedError

    # ------------------------------------------------------------------ waiting and stopping

    def _check(self, run: Any, scope: _Scope) -> None:
        if run.cancel.is_set():
            raise _Cancelled()
        if scope.aborted():
            raise _Aborted()

    def _sleep(self, seconds: float, run: Any, scope: _Scope) -> None:
        """Sleep unless cancelled (or, inside a Map / Parallel item, aborted)."""
        remaining = seconds
        while remaining > 0:
            chunk = min(remaining, 0.05) if scope.aborts else remaining
            if run.cancel.wait(chunk):
                break
            remaining -= chunk
            if scope.aborted():
                break
        self._check(run, scope)

    def _stop_job(self, name: str) -> None:
        """Best effort: a job that is gone or already ending is fine; any other failure to stop is
        logged, and the run is still recorded as cancelled (never left "cancelling")."""
        try:
            self.jobs.stop(name)
        except (NotFound, Conflict):
            pass
        except Exception:
            log.warning("could not stop job %s", name, exc_info=True)

    def _cancel_child(self, run_id: str) -> None:
        with contextlib.suppress(NotFound, Conflict):
            self.cancel(run_id, reason="its parent run was cancelled")

    # ------------------------------------------------------------------ one state

    def _execute(
        self, run: Any, s: Any, attempt: int, doc: Any, ctx: dict[str, Any], scope: _Scope, *, resumed: bool = False
    ) -> Any:
        """Carry out state ``s``; returns its result (for ``interp.after_success``); raises
        StepError (named errors: what Retry and Catch match on), _Cancelled or _Aborted."""
        try:
            if isinstance(s, m.Wait):
                seconds = s.seconds if s.seconds is not None else paths.get(doc, s.seconds_path or "$")
                if scope.top:
                    self._flush(run)
                self._sleep(float(seconds) * self.time_scale, run, scope)
                return None
            if isinstance(s, m.JobTask):
                return self._job(run, s, attempt, doc, ctx, scope, resumed=resumed)
            if isinstance(s, m.StepTask):
                fn = self.steps.get(s.function)
                if fn is None:
                    raise m.StepError("TLM.UnknownStepFunction", f"no step function {s.function!r} registered")
                return fn(doc if s.parameters is None else paths.resolve(s.parameters, doc, ctx))
            if isinstance(s, m.RecordTask):
                self._progress(run, event_class(s.event_type).model_validate(paths.resolve(s.data, doc, ctx)))
                return None
            if isinstance(s, m.MapState | m.ParallelState):
                return self._fan_out(run, s, attempt, doc, ctx, scope)
            if isinstance(s, m.ChildWorkflow):
                return self._child(run, s, attempt, doc, ctx, scope)
        except (m.StepError, _Cancelled, _Aborted):
            raise
        except paths.PathError as exc:
            raise m.StepError(interp.RUNTIME_ERROR, str(exc)) from exc
        except Exception as exc:  # a step function's own error: named by its class, as Lambda does
            raise m.StepError(type(exc).__name__, str(exc)) from exc
        raise m.StepError(interp.RUNTIME_ERROR, f"cannot run state {s.name!r}")

    def _inline(self, run: Any, defn: m.Workflow, doc: Any, ctx: dict[str, Any], scope: _Scope) -> Any:
        """Run a sub-workflow (a Map item, a Parallel branch) in this thread, without per-state
        events: the interpreter's loop on a local cursor. Returns its output; raises StepError."""
        cur = interp.Cursor(document=doc)
        while True:
            self._check(run, scope)
            action = interp.next_action(defn, cur, ctx)
            if isinstance(action, interp.Finish):
                if action.status == "succeeded":
                    return action.output
                raise m.StepError(action.error, action.cause)
            if isinstance(action, interp.Retry):
                self._sleep(action.delay_s * self.time_scale, run, scope)
            if not isinstance(action, interp.Execute):
                cur = interp.moved(cur, action)
                continue
            s = action.state
            try:
                where = {**ctx, "State": {"Name": s.name}}
                result = self._execute(
                    run, s, action.attempt, cur.document, where, replace(scope, path=f"{scope.path}/{s.name}")
                )
            except m.StepError as exc:
                cur = interp.failed(replace(cur, step=s.name), exc.error, exc.cause)
                continue
            cur = interp.moved(cur, interp.after_success(s, action.attempt, cur.document, result))

    # ------------------------------------------------------------------ jobs

    def _job(
        self, run: Any, s: m.JobTask, attempt: int, doc: Any, ctx: dict[str, Any], scope: _Scope, *, resumed: bool
    ) -> dict[str, Any]:
        if scope.top and resumed and run.state.job_name:
            name = run.state.job_name  # re-attach after a restart
            try:
                self.jobs.describe(name)
            except NotFound as exc:
                raise m.StepError(m.JOB_LOST, f"job {name} is gone after a restart: {exc.message}") from exc
        else:
            spec = self._spec(s.job, doc, ctx)
            name = spec.name
            if scope.top:
                self._progress(run, ev.JobLaunched(step=s.name, attempt=attempt, job_name=name), durable=True)
            elif scope.step is not None and scope.index is not None:
                launched = ev.IterationJobLaunched(
                    step=scope.step, attempt=scope.attempt, index=scope.index, job_name=name
                )
                self._progress(run, launched, durable=True)
            self.jobs.start(spec)
        while True:
            try:
                self._check(run, scope)
            except (_Cancelled, _Aborted):
                self._stop_job(name)
                raise
            status = self.jobs.describe(name)
            if status.state == "Completed":
                return {"name": name, "status": status.state, "model_artifacts": status.model_artifacts}
            if status.state in ("Failed", "Stopped"):
                self._check(run, scope)  # stopped by our own cancel / abort: that, not a job failure
            if status.state == "Failed":
                raise m.StepError(m.JOB_FAILED, status.failure_reason or "the job failed")
            if status.state == "Stopped":
                raise m.StepError(m.JOB_STOPPED, status.failure_reason or "the job was stopped")
            with contextlib.suppress(_Cancelled, _Aborted):  # checked (and the job stopped) above
                self._sleep(self.poll_interval_s, run, scope)

    def _spec(self, job: m.JobTemplate, doc: Any, context: dict[str, Any]) -> JobSpec:
        t = substitute(job.model_dump(), self.substitutions)
        checkpoint = t["checkpoint_uri"]
        return JobSpec(
            name=str(paths.resolve(job.name, doc, context)) if job.name else f"{job.name_prefix}-{uuid.uuid4()}",
            program=job.program,
            hyperparameters=paths.resolve(t["hyperparameters"], doc, context),
            channels={k: str(v) for k, v in paths.resolve(t["channels"], doc, context).items()},
            output_uri=str(paths.resolve(t["output_uri"], doc, context)),
            checkpoint_uri=None if checkpoint is None else str(paths.resolve(checkpoint, doc, context)),
            instance_type=str(paths.resolve(t["instance_type"], doc, context)),
            instance_count=job.instance_count,
            use_spot=job.use_spot,
            max_runtime_s=job.max_runtime_s,
            max_wait_s=job.max_wait_s,
            metric_definitions=[dict(d) for d in job.metric_definitions],
            environment=dict(t["environment"]),
        )

    # ------------------------------------------------------------------ Map and Parallel

    def _fan_out(self, run: Any, s: Any, attempt: int, doc: Any, ctx: dict[str, Any], scope: _Scope) -> list[Any]:
        if isinstance(s, m.MapState):
            items = interp.map_items(s, doc)
            work = [
                (s.iterator, item, {**ctx, "Map": {"Item": {"Index": i, "Value": item}}})
                for i, item in enumerate(items)
            ]
            width = s.max_concurrency or MAX_INLINE_CONCURRENCY
        else:
            work = [(branch, doc, ctx) for branch in s.branches]
            width = len(work)
        n = len(work)
        outcomes: dict[int, dict[str, Any]] = {}
        if scope.top:  # resume: finished items stay finished; jobs of unfinished ones are stopped
            outcomes = {i: dict(o) for i, o in run.state.items.items() if i < n}
            for i, job in run.state.item_jobs.items():
                if i not in outcomes:
                    self._stop_job(job)
            self._flush(run)
        abort = threading.Event()
        lock = threading.Lock()

        def one(i: int) -> None:
            defn, item_doc, item_ctx = work[i]
            index = i if scope.top else scope.index
            owner = (s.name, attempt) if scope.top else (scope.step, scope.attempt)
            inner = _Scope(owner[0], owner[1], index, (*scope.aborts, abort), f"{scope.path}/{s.name}[{i}]")
            try:
                outcome: dict[str, Any] = {"output": self._inline(run, defn, item_doc, item_ctx, inner)}
            except m.StepError as exc:
                outcome = {"error": exc.error, "cause": exc.cause}
            if scope.top:
                event = (
                    ev.IterationSucceeded(step=s.name, attempt=attempt, index=i, output=outcome["output"])
                    if "output" in outcome
                    else ev.IterationFailed(step=s.name, attempt=attempt, index=i, **outcome)
                )
                self._progress(run, event, durable=True)
            with lock:
                outcomes[i] = outcome
                if interp.should_abort(s, outcomes, n):
                    abort.set()

        todo = [i for i in range(n) if i not in outcomes]
        errors: list[BaseException] = []
        if todo and not interp.should_abort(s, outcomes, n):
            with ThreadPoolExecutor(max_workers=max(1, min(width, len(todo))), thread_name_prefix=f"{s.name}") as pool:
                for f in [pool.submit(one, i) for i in todo]:
                    exc = f.exception()
                    if exc is not None and not isinstance(exc, _Aborted):
                        errors.append(exc)
        self._check(run, scope)
        for exc in errors:
            raise exc
        return interp.fan_in(s, outcomes, n)

    # ------------------------------------------------------------------ child runs

    def _child(self, run: Any, s: m.ChildWorkflow, attempt: int, doc: Any, ctx: dict[str, Any], scope: _Scope) -> Any:
        """Start (or, after a restart, find) the child run, whose id is derived from this run,
        the state and the attempt, and wait for its end."""
        payload = doc if s.parameters is None else paths.resolve(s.parameters, doc, ctx)
        key = f"{run.run_id}{scope.path}/{s.name}#{attempt}"
        child_id = hashlib.sha256(key.encode()).hexdigest()[:32]
        if scope.top and run.state.child_run_id != child_id:
            started = ev.ChildRunStarted(step=s.name, attempt=attempt, workflow=s.workflow, child_run_id=child_id)
            self._progress(run, started, durable=True)
        try:
            self.start(s.workflow, payload, run_id=child_id, parent_run_id=run.run_id)
        except Conflict:
            pass  # started before a restart: wait for it (resume_incomplete drives it)
        except NotFound as exc:
            raise m.StepError("TLM.UnknownWorkflow", exc.message) from exc
        while True:
            if run.cancel.is_set() or scope.aborted():
                self._cancel_child(child_id)
                self._check(run, scope)
            with self._lock:
                live = self._runs.get(child_id)
            if live is not None:
                live.done.wait(self.poll_interval_s)
            child = self.state(child_id)
            if child.status == "succeeded":
                return {"output": child.output}
            if child.finished:
                cause = json.dumps({"status": child.status, "error": child.error, "cause": child.cause})
                raise m.StepError(m.TASK_FAILED, cause)
            if live is None:
                self._sleep(self.poll_interval_s, run, scope)
