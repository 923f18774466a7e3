"""Run workflow definitions in this process, one thread per run, with progress as events.

Every step's progress goes to the run's stream ``workflowrun-<run id>`` through the run
aggregate's ``decide`` (``domain.workflows.run``): ``StepStarted`` (tasks and waits only; Pass,
Choice, Succeed and Fail are instantaneous and record their outcome only), ``JobLaunched`` *before*
the job is started (so a crash can never leave an unknown job behind), ``StepSucceeded`` with
the document after the step, ``StepFailed`` / ``StepRetried`` / ``StepCaught``, and the end.

Restart: ``resume_incomplete()`` finds every run without an end and drives it on from its
stream: a step whose job was launched re-attaches to the job (``describe``) and waits for it;
a job that is gone fails the step with ``TLM.JobLost`` (its retry and catch policies apply); any
other step that had started is run again (at least once, ``StepStarted(resumed=True)``); a run
whose cancel was requested is stopped and marked cancelled. A run is never left "running".

Map states run their iterations inline (no per-iteration events): after a restart a Map runs
again as a whole. Step-function timeouts are not enforced locally.

The runner keeps each run's state and version in memory and appends with the expected version;
a concurrent writer (``cancel`` from another thread or process) makes it reload and decide again,
exactly as ``runtime.services.commands.execute`` does.
"""

from __future__ import annotations

import logging
import threading
import traceback
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from domain.errors import ConcurrencyConflict, Conflict, NotFound
from domain.events import Command, DomainEvent, event_class
from domain.records import NewEvent
from domain.workflows import events as ev
from domain.workflows import model as m
from domain.workflows import paths
from domain.workflows.run import Finish, Progress, RequestCancel, RunState, StartRun, WorkflowRun, decide
from runtime.ports import EventStore, JobRunner, JobSpec
from runtime.services.commands import Caller, load
from runtime.workflows.asl import substitute

log = logging.getLogger(__name__)
StepFunction = Callable[[Any], Any]
RUNTIME_ERROR = "States.Runtime"
RUNNER_ERROR = "TLM.RunnerError"


class _Cancelled(Exception):
    pass


@dataclass
class _Run:
    run_id: str
    state: RunState
    version: int
    cancel: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None
    done: threading.Event = field(default_factory=threading.Event)


class LocalWorkflowRunner:
    def __init__(
        self,
        store: EventStore,
        jobs: JobRunner,
        *,
        workflows: Mapping[str, m.Workflow],
        steps: Mapping[str, StepFunction] | None = None,
        substitutions: Mapping[str, str] | None = None,
        caller: Caller | None = None,
        poll_interval_s: float = 1.0,
        time_scale: float = 1.0,
    ) -> None:
        """``time_scale`` multiplies Wait seconds and retry delays (tests and benches use 0)."""
        self.store = store
        self.jobs = jobs
        self.workflows = dict(workflows)
        self.steps = dict(steps or {})
        self.substitutions = dict(substitutions or {})
        self.caller = caller or Caller(user_id="workflow-runner")
        self.poll_interval_s = poll_interval_s
        self.time_scale = time_scale
        self._runs: dict[str, _Run] = {}
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ public API

    def start(self, workflow: str, input: dict[str, Any], *, run_id: str | None = None) -> str:
        if workflow not in self.workflows:
            raise NotFound(f"no workflow {workflow!r}", field="workflow")
        run_id = run_id or uuid.uuid4().hex
        run = _Run(run_id, RunState(), 0)
        self._apply(run, StartRun(run_id=run_id, workflow=workflow, input=input))
        self._launch(run)
        return run_id

    def cancel(self, run_id: str, *, reason: str = "") -> RunState:
        """Request cancellation: the run's thread stops its job and records RunCancelled. A run
        no thread here is driving (its process died) is stopped and cancelled right away."""
        with self._lock:
            live = self._runs.get(run_id)
        if live is not None and live.thread is not None and live.thread.is_alive():
            # a fresh copy: the run's own thread owns ``live`` and reloads on the version conflict
            run = self._load(run_id)
            self._apply(run, RequestCancel(reason=reason))
            live.cancel.set()
            if run.state.job_name:
                self._stop_job(run.state.job_name)
            return run.state
        run = self._load(run_id)
        self._apply(run, RequestCancel(reason=reason))
        self._finish_cancel(run)
        return run.state

    def resume_incomplete(self) -> list[str]:
        """Drive every unfinished run in the store that no thread here is driving; returns
        their ids."""
        resumed = []
        for run_id in self._run_ids():
            with self._lock:
                live = self._runs.get(run_id)
            if live is not None and live.thread is not None and live.thread.is_alive():
                continue
            run = self._load(run_id)
            if run.state.finished:
                continue
            self._launch(run)
            resumed.append(run_id)
        return resumed

    def wait(self, run_id: str, timeout: float | None = None) -> RunState:
        with self._lock:
            live = self._runs.get(run_id)
        if live is not None and not live.done.wait(timeout):
            raise TimeoutError(f"run {run_id} still {live.state.status} after {timeout}s")
        return self.state(run_id)

    def state(self, run_id: str) -> RunState:
        return self._load(run_id).state

    # ------------------------------------------------------------------ plumbing

    def _run_ids(self) -> list[str]:
        ids, position = [], 0
        while True:
            batch = self.store.read_all(after_position=position, limit=1000)
            if not batch:
                return ids
            ids += [e.data["run_id"] for e in batch if e.type == ev.RunStarted.event_type]
            position = batch[-1].position or 0

    def _load(self, run_id: str) -> _Run:
        state, version = load(self.store, WorkflowRun, run_id)
        if version == 0:
            raise NotFound(f"no workflow run {run_id!r}", field="run_id")
        return _Run(run_id, state, version)

    def _apply(self, run: _Run, command: Command) -> None:
        stream = WorkflowRun.stream_id(run.run_id)
        for _ in range(10):
            events = list(decide(run.state, command))
            if not events:
                return
            meta = Caller(self.caller.user_id, correlation_id=run.run_id).metadata(command)
            try:
                result = self.store.append(stream, [NewEvent.of(e, meta) for e in events], run.version)
            except ConcurrencyConflict:
                fresh = self._load(run.run_id)
                run.state, run.version = fresh.state, fresh.version
                continue
            run.state = WorkflowRun.fold(events, run.state)
            run.version = result.last_version
            return
        raise ConcurrencyConflict(stream, run.version)

    def _progress(self, run: _Run, event: DomainEvent) -> None:
        self._apply(run, Progress(event=event))

    def _launch(self, run: _Run) -> None:
        thread = threading.Thread(
            target=self._drive, args=(run,), name=f"workflowrun-{run.run_id}", daemon=True
        )
        run.thread = thread
        with self._lock:
            self._runs[run.run_id] = run
        thread.start()

    def _sleep(self, seconds: float, run: _Run) -> None:
        if seconds > 0 and run.cancel.wait(seconds):
            raise _Cancelled()
        if run.cancel.is_set():
            raise _Cancelled()

    def _stop_job(self, name: str) -> None:
        """Best effort: a job that is gone or already ending is fine; any other failure to stop is
        logged, and the run is still recorded as cancelled (never left "cancelling")."""
        try:
            self.jobs.stop(name)
        except (NotFound, Conflict):
            pass
        except Exception:
            log.warning("could not stop job %s", name, exc_info=True)

    def _finish_cancel(self, run: _Run) -> None:
        if run.state.job_name:
            self._stop_job(run.state.job_name)
        if not run.state.finished:
            self._apply(
                run, Finish(event=ev.RunCancelled(step=run.state.current_step or run.state.next_step))
            )

    # ------------------------------------------------------------------ the loop

    def _drive(self, run: _Run) -> None:
        try:
            self._loop(run)
        except _Cancelled:
            self._finish_cancel(run)
        except BaseException as exc:  # never leave a run "running" while this process lives
            if not run.state.finished:
                cause = "".join(traceback.format_exception_only(type(exc), exc)).strip()
                self._apply(
                    run,
                    Finish(event=ev.RunFailed(error=RUNNER_ERROR, cause=cause, step=run.state.current_step)),
                )
        finally:
            run.done.set()

    def _loop(self, run: _Run) -> None:
        defn = self.workflows.get(run.state.workflow)
        if defn is None:
            self._apply(
                run,
                Finish(
                    event=ev.RunFailed(
                        error="TLM.UnknownWorkflow", cause=f"no workflow {run.state.workflow!r} here"
                    )
                ),
            )
            return
        context = {"Execution": {"Name": run.run_id, "Id": run.run_id}}
        while True:
            st = run.state
            if st.finished:
                return
            if st.status == "cancelling" or run.cancel.is_set():
                raise _Cancelled()
            if st.failure is not None:  # crashed after StepFailed: apply its policy now
                self._handle_failure(run, defn.state(st.next_step), st.attempt, *st.failure)
                continue
            if st.at_end:
                self._apply(run, Finish(event=ev.RunSucceeded(output=st.document)))
                return
            name = st.next_step or defn.start_at
            state = defn.state(name)
            resumed = st.current_step == name
            self._step(run, state, st.attempt, resumed, {**context, "State": {"Name": name}})

    def _step(self, run: _Run, s: Any, attempt: int, resumed: bool, context: dict[str, Any]) -> None:
        doc = run.state.document
        if isinstance(s, m.Succeed):
            self._apply(run, Finish(event=ev.RunSucceeded(output=doc)))
            return
        if isinstance(s, m.Fail):
            self._apply(run, Finish(event=ev.RunFailed(error=s.error, cause=s.cause, step=s.name)))
            return
        if isinstance(s, m.Pass | m.Choice):
            try:
                new_doc, nxt = _instant(s, doc, context)
            except m.StepError as exc:
                self._apply(run, Finish(event=ev.RunFailed(error=exc.error, cause=exc.cause, step=s.name)))
                return
            self._progress(run, ev.StepSucceeded(step=s.name, attempt=1, document=new_doc, next=nxt))
            return
        if not (resumed and isinstance(s, m.JobTask) and run.state.job_name):
            self._progress(run, ev.StepStarted(step=s.name, attempt=attempt, resumed=resumed))
        try:
            new_doc = self._task(run, s, doc, context)
        except _Cancelled:
            raise
        except m.StepError as exc:
            self._progress(run, ev.StepFailed(step=s.name, attempt=attempt, error=exc.error, cause=exc.cause))
            self._handle_failure(run, s, attempt, exc.error, exc.cause)
            return
        nxt = None if s.end else s.next
        self._progress(run, ev.StepSucceeded(step=s.name, attempt=attempt, document=new_doc, next=nxt))

    def _handle_failure(self, run: _Run, s: Any, attempt: int, error: str, cause: str) -> None:
        decision = _on_failure(s, attempt, error)
        if decision[0] == "retry":
            delay = decision[1]
            self._progress(run, ev.StepRetried(step=s.name, attempt=attempt + 1, delay_s=delay))
            self._sleep(delay * self.time_scale, run)
        elif decision[0] == "catch":
            catch: m.Catch = decision[1]
            doc = paths.put(run.state.document, catch.result_path, {"Error": error, "Cause": cause})
            self._progress(run, ev.StepCaught(step=s.name, error=error, next=catch.next, document=doc))
        else:
            self._apply(run, Finish(event=ev.RunFailed(error=error, cause=cause, step=s.name)))

    def _task(self, run: _Run, s: Any, doc: Any, context: dict[str, Any]) -> Any:
        """Run one task or wait; returns the document after it; raises StepError."""
        try:
            if isinstance(s, m.Wait):
                seconds = s.seconds if s.seconds is not None else paths.get(doc, s.seconds_path or "$")
                self._sleep(float(seconds) * self.time_scale, run)
                return doc
            if isinstance(s, m.JobTask):
                return paths.put(doc, s.result_path, self._job(run, s, doc, context))
            if isinstance(s, m.StepTask):
                fn = self.steps.get(s.function)
                if fn is None:
                    raise m.StepError(
                        "TLM.UnknownStepFunction", f"no step function {s.function!r} registered"
                    )
                payload = doc if s.parameters is None else paths.resolve(s.parameters, doc, context)
                return paths.put(doc, s.result_path, fn(payload))
            if isinstance(s, m.RecordTask):
                data = paths.resolve(s.data, doc, context)
                self._progress(run, event_class(s.event_type).model_validate(data))
                return paths.put(doc, s.result_path, None) if s.result_path else doc
            if isinstance(s, m.MapState):
                items = paths.get(doc, s.items_path)
                if not isinstance(items, list):
                    raise m.StepError(RUNTIME_ERROR, f"{s.items_path} is not a list")
                return paths.put(
                    doc, s.result_path, [self._inline(run, s.iterator, it, context) for it in items]
                )
        except (m.StepError, _Cancelled):
            raise
        except paths.PathError as exc:
            raise m.StepError(RUNTIME_ERROR, str(exc)) from exc
        except Exception as exc:  # a step function's own error: named by its class, as Lambda does
            raise m.StepError(type(exc).__name__, str(exc)) from exc
        raise m.StepError(RUNTIME_ERROR, f"cannot run state {s.name!r}")

    # ------------------------------------------------------------------ jobs

    def _job(self, run: _Run, s: m.JobTask, doc: Any, context: dict[str, Any], *, record: bool = True) -> Any:
        name = (
            run.state.job_name if record and run.state.current_step is None and run.state.job_name else None
        )
        if record and run.state.job_name and run.state.current_step == s.name:
            name = run.state.job_name  # re-attach after a restart
            try:
                self.jobs.describe(name)
            except NotFound as exc:
                raise m.StepError(m.JOB_LOST, f"job {name} is gone after a restart: {exc.message}") from exc
        else:
            spec = self._spec(s.job, doc, context)
            name = spec.name
            if record:
                self._progress(run, ev.JobLaunched(step=s.name, attempt=run.state.attempt, job_name=name))
            self.jobs.start(spec)
        while True:
            if run.cancel.is_set():
                self._stop_job(name)
                raise _Cancelled()
            status = self.jobs.describe(name)
            if status.state == "Completed":
                return {"name": name, "status": status.state, "model_artifacts": status.model_artifacts}
            if status.state == "Failed":
                raise m.StepError(m.JOB_FAILED, status.failure_reason or "the job failed")
            if status.state == "Stopped":
                raise m.StepError(m.JOB_STOPPED, status.failure_reason or "the job was stopped")
            self._sleep(self.poll_interval_s, run)

    def _spec(self, job: m.JobTemplate, doc: Any, context: dict[str, Any]) -> JobSpec:
        t = substitute(job.model_dump(), self.substitutions)
        return JobSpec(
            name=f"{job.name_prefix}-{uuid.uuid4()}",
            program=job.program,
            hyperparameters=paths.resolve(t["hyperparameters"], doc, context),
            channels={k: str(v) for k, v in paths.resolve(t["channels"], doc, context).items()},
            output_uri=str(paths.resolve(t["output_uri"], doc, context)),
            checkpoint_uri=None
            if t["checkpoint_uri"] is None
            else str(paths.resolve(t["checkpoint_uri"], doc, context)),
            instance_type=str(paths.resolve(t["instance_type"], doc, context)),
            instance_count=job.instance_count,
            use_spot=job.use_spot,
            max_runtime_s=job.max_runtime_s,
            max_wait_s=job.max_wait_s,
            metric_definitions=[dict(d) for d in job.metric_definitions],
            environment=dict(t["environment"]),
        )

    # ------------------------------------------------------------------ map iterations

    def _inline(self, run: _Run, defn: m.Workflow, doc: Any, context: dict[str, Any]) -> Any:
        """Run a sub-workflow in this thread without events (Map iterations)."""
        name, attempt = defn.start_at, 1
        while True:
            s = defn.state(name)
            if isinstance(s, m.Succeed):
                return doc
            if isinstance(s, m.Fail):
                raise m.StepError(s.error, s.cause)
            if isinstance(s, m.Pass | m.Choice):
                doc, nxt = _instant(s, doc, context)
            else:
                try:
                    if isinstance(s, m.JobTask):
                        doc = paths.put(doc, s.result_path, self._job(run, s, doc, context, record=False))
                    elif isinstance(s, m.RecordTask):
                        raise m.StepError(RUNTIME_ERROR, "record tasks cannot run inside a map")
                    else:
                        doc = self._task(run, s, doc, context)
                    nxt = None if s.end else s.next
                except m.StepError as exc:
                    decision = _on_failure(s, attempt, exc.error)
                    if decision[0] == "retry":
                        self._sleep(decision[1] * self.time_scale, run)
                        attempt += 1
                        continue
                    if decision[0] == "catch":
                        doc = paths.put(
                            doc, decision[1].result_path, {"Error": exc.error, "Cause": exc.cause}
                        )
                        name, attempt = decision[1].next, 1
                        continue
                    raise
            if nxt is None:
                return doc
            name, attempt = nxt, 1


def _instant(s: m.Pass | m.Choice, doc: Any, context: dict[str, Any]) -> tuple[Any, str | None]:
    """Pass and Choice: (document after, next state)."""
    if isinstance(s, m.Pass):
        if s.parameters is not None:
            try:
                result = paths.resolve(s.parameters, doc, context)
            except paths.PathError as exc:
                raise m.StepError(RUNTIME_ERROR, str(exc)) from exc
        else:
            result = s.result if s.result is not None else doc
        return paths.put(doc, s.result_path, result), (None if s.end else s.next)
    for rule in s.choices:
        present = paths.present(doc, rule.variable)
        value = paths.get(doc, rule.variable) if present else None
        if m.choice_matches(rule, present, value):
            return doc, rule.next
    if s.default is None:
        raise m.StepError("States.NoChoiceMatched", f"no rule of {s.name!r} matched")
    return doc, s.default


def _on_failure(s: Any, attempt: int, error: str) -> tuple[str, Any]:
    """('retry', delay_s) | ('catch', Catch) | ('fail', None), following ASL: the first retrier
    whose errors match decides whether attempts are left; else the first matching catcher."""
    if error != RUNTIME_ERROR:
        for r in getattr(s, "retry", ()):
            if m.error_matches(r.errors, error):
                if attempt <= r.max_attempts:
                    return "retry", r.delay_s(attempt)
                break
        for c in getattr(s, "catch", ()):
            if m.error_matches(c.errors, error):
                return "catch", c
    return "fail", None
