"""Run workflow definitions in this process, one thread per run, with progress as events: a thin
effects loop around the pure interpreter ``domain.workflows.interpreter``.

Every step's progress goes to the run's stream ``workflowrun-<run id>`` through the run
aggregate's ``decide`` (``domain.workflows.run``): ``StepStarted`` (tasks, waits, Map, Parallel,
child runs; Pass and Choice are instantaneous and record their outcome only), ``JobLaunched``
*before* the job is started (so a crash can never leave an unknown job behind), ``StepSucceeded``
with the document after the step, ``StepFailed`` / ``StepRetried`` / ``StepCaught``, per-item
``IterationSucceeded`` / ``IterationFailed`` / ``IterationJobLaunched`` of Map and Parallel steps,
``ChildRunStarted`` of child workflows, and the end.

Durability (what a restart needs, and no more): events are decided at once but buffered, and the
buffer is committed in one append — before a job launch, a child run's start, a wait, a Map or
Parallel fans out, when an item finishes, at the run's end, and whenever the oldest buffered event
is older than ``flush_after_s``. A crash therefore re-runs at most the non-job states since the
last commit (step functions run at least once anyway). Readers see progress at commits.

Restart: ``resume_incomplete()`` finds every run without an end and drives it on from its
stream: a step whose job was launched re-attaches to the job (``describe``) and waits for it;
a job that is gone fails the step with ``TLM.JobLost`` (its retry and catch policies apply); a
Map or Parallel step runs only the items that have not finished (the jobs of unfinished items
are stopped, the items run again); a child run is waited for again (it resumes on its own); any
other step that had started is run again (at least once, ``StepStarted(resumed=True)``); a run
whose cancel was requested is stopped and marked cancelled. A run is never left "running".

The runner keeps each run's state and version in memory and appends with the expected version;
a concurrent writer (``cancel`` from another thread or process) makes it reload and decide the
buffered commands again, exactly as ``runtime.services.commands.execute`` does.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from domain.errors import ConcurrencyConflict, Conflict, Invalid, NotFound
from domain.events import Command, DomainEvent, EventMetadata
from domain.records import NewEvent
from domain.workflows import events as ev
from domain.workflows import interpreter as interp
from domain.workflows import model as m
from domain.workflows.run import Finish, Progress, RequestCancel, RunState, StartRun, WorkflowRun, decide
from runtime.adapters.local_workflows.effects import Effects, _Cancelled, _Scope
from runtime.ports import EventStore, JobRunner, RunInfo
from runtime.services.commands import Caller, load

log = logging.getLogger(__name__)
StepFunction = Callable[[Any], Any]
RUNTIME_ERROR = interp.RUNTIME_ERROR
RUNNER_ERROR = "TLM.RunnerError"


@dataclass
class _Run:
    run_id: str
    state: RunState
    version: int  # the stream's version in the store (buffered events not counted)
    cancel: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None
    done: threading.Event = field(default_factory=threading.Event)
    lock: threading.RLock = field(default_factory=threading.RLock)
    pending: list[tuple[Command, list[tuple[DomainEvent, EventMetadata]]]] = field(default_factory=list)
    pending_since: float | None = None


def _cursor(st: RunState) -> interp.Cursor:
    return interp.Cursor(
        step=st.next_step,
        attempt=st.attempt,
        document=st.document,
        at_end=st.at_end,
        failure=st.failure,
        current_step=st.current_step,
    )


class LocalWorkflowRunner(Effects):
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
        flush_after_s: float = 1.0,
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
        self.flush_after_s = flush_after_s
        self._runs: dict[str, _Run] = {}
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ public API

    def start(
        self, workflow: str, input: dict[str, Any], *, run_id: str | None = None, parent_run_id: str | None = None
    ) -> str:
        if workflow not in self.workflows:
            raise NotFound(f"no workflow {workflow!r}", field="workflow")
        run_id = run_id or uuid.uuid4().hex
        run = _Run(run_id, RunState(), 0)
        self._record(run, StartRun(run_id=run_id, workflow=workflow, input=input, parent_run_id=parent_run_id))
        self._launch(run)
        return run_id

    def cancel(self, run_id: str, *, reason: str = "") -> RunState:
        """Request cancellation: the run's thread stops its jobs and child runs and records
        RunCancelled. A run no thread here is driving (its process died) is stopped and
        cancelled right away."""
        with self._lock:
            live = self._runs.get(run_id)
        run = self._load(run_id)  # a fresh copy: the live thread reloads on the version conflict
        self._record(run, RequestCancel(reason=reason), durable=True)
        if live is not None and live.thread is not None and live.thread.is_alive():
            live.cancel.set()
            if run.state.job_name:
                self._stop_job(run.state.job_name)
            return run.state
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

    def list_runs(self, workflow: str) -> list[RunInfo]:
        """The runs of ``workflow`` in start order (a scan of the log: the runs view replaces it)."""
        if workflow not in self.workflows:
            raise NotFound(f"no workflow {workflow!r}", field="workflow")
        out = []
        for run_id in self._run_ids():
            st = self._load(run_id).state
            if st.workflow == workflow:
                out.append(RunInfo(run_id=run_id, workflow=workflow, status=st.status))
        return out

    # ------------------------------------------------------------------ the journal

    def _run_ids(self) -> list[str]:
        ids: list[str] = []
        position = 0
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

    def _record(self, run: _Run, command: Command, *, durable: bool = False) -> None:
        """Decide ``command`` now and buffer its events; commit when durable (or at the end,
        or when the buffer is older than ``flush_after_s``)."""
        with run.lock:
            events = list(decide(run.state, command))
            if events:
                meta = Caller(self.caller.user_id, correlation_id=run.run_id).metadata(command)
                run.pending.append((command, [(e, meta) for e in events]))
                run.state = WorkflowRun.fold(events, run.state)
                run.pending_since = run.pending_since or time.monotonic()
            final = isinstance(command, StartRun | Finish)
            if durable or final or (run.pending_since and time.monotonic() - run.pending_since > self.flush_after_s):
                self._flush(run)

    def _flush(self, run: _Run) -> None:
        stream = WorkflowRun.stream_id(run.run_id)
        with run.lock:
            for _ in range(10):
                if not run.pending:
                    return
                batch = [NewEvent.of(e, meta) for _, events in run.pending for e, meta in events]
                try:
                    result = self.store.append(stream, batch, run.version)
                except ConcurrencyConflict:
                    self._redecide(run)
                    continue
                run.version = result.last_version
                run.pending, run.pending_since = [], None
                return
            raise ConcurrencyConflict(stream, run.version)

    def _redecide(self, run: _Run) -> None:
        """Someone else appended (a cancel): decide the buffered commands again on the fresh
        stream; those the fresh state refuses (the run ended meanwhile) are dropped."""
        if run.pending and isinstance(run.pending[0][0], StartRun):
            raise Conflict(f"run {run.run_id!r} exists", field="run_id")
        fresh = self._load(run.run_id)
        state, redone = fresh.state, []
        for command, old in run.pending:
            try:
                events = list(decide(state, command))
            except (Conflict, Invalid):
                break
            if events:
                redone.append((command, [(e, old[0][1]) for e in events]))
                state = WorkflowRun.fold(events, state)
        run.state, run.version, run.pending = state, fresh.version, redone
        if state.status == "cancelling" or state.finished:
            run.cancel.set()

    def _progress(self, run: _Run, event: DomainEvent, *, durable: bool = False) -> None:
        self._record(run, Progress(event=event), durable=durable)

    # ------------------------------------------------------------------ the loop

    def _launch(self, run: _Run) -> None:
        thread = threading.Thread(target=self._drive, args=(run,), name=f"workflowrun-{run.run_id}", daemon=True)
        run.thread = thread
        with self._lock:
            self._runs[run.run_id] = run
        thread.start()

    def _finish_cancel(self, run: _Run) -> None:
        st = run.state
        for job in ([st.job_name] if st.job_name else []) + list(st.item_jobs.values()):
            self._stop_job(job)
        if st.child_run_id:
            self._cancel_child(st.child_run_id)
        if not run.state.finished:
            self._record(run, Finish(event=ev.RunCancelled(step=st.current_step or st.next_step)))

    def _drive(self, run: _Run) -> None:
        try:
            self._loop(run)
        except _Cancelled:
            self._finish_cancel(run)
        except BaseException as exc:  # never leave a run "running" while this process lives
            if not run.state.finished:
                cause = "".join(traceback.format_exception_only(type(exc), exc)).strip()
                event = ev.RunFailed(error=RUNNER_ERROR, cause=cause, step=run.state.current_step)
                self._record(run, Finish(event=event))
        finally:
            try:
                self._flush(run)
            except Exception:  # the store is gone or someone else ended the run: nothing to add
                log.warning("run %s: could not commit its last events", run.run_id, exc_info=True)
            run.done.set()

    def _loop(self, run: _Run) -> None:
        defn = self.workflows.get(run.state.workflow)
        if defn is None:
            cause = f"no workflow {run.state.workflow!r} here"
            self._record(run, Finish(event=ev.RunFailed(error="TLM.UnknownWorkflow", cause=cause)))
            return
        context = {"Execution": {"Name": run.run_id, "Id": run.run_id}}
        while True:
            st = run.state
            if st.finished:
                return
            if st.status == "cancelling" or run.cancel.is_set():
                raise _Cancelled()
            action = interp.next_action(defn, _cursor(st), context)
            if isinstance(action, interp.Finish):
                end: DomainEvent = (
                    ev.RunSucceeded(output=action.output)
                    if action.status == "succeeded"
                    else ev.RunFailed(error=action.error, cause=action.cause, step=action.step)
                )
                self._record(run, Finish(event=end))
                return
            if isinstance(action, interp.Advance):
                self._succeeded(run, action)
            elif isinstance(action, interp.Retry):
                retried = ev.StepRetried(step=action.step, attempt=action.attempt, delay_s=action.delay_s)
                self._progress(run, retried, durable=action.delay_s * self.time_scale > 0)
                self._sleep(action.delay_s * self.time_scale, run, _Scope())
            elif isinstance(action, interp.Caught):
                caught = ev.StepCaught(step=action.step, error=action.error, next=action.next, document=action.document)
                self._progress(run, caught)
            else:
                self._execute_top(run, action, {**context, "State": {"Name": action.state.name}})

    def _execute_top(self, run: _Run, action: interp.Execute, context: dict[str, Any]) -> None:
        s, attempt, st = action.state, action.attempt, run.state
        reattach = action.resumed and (
            (isinstance(s, m.JobTask) and st.job_name) or (isinstance(s, m.ChildWorkflow) and st.child_run_id)
        )
        if not reattach:
            self._progress(run, ev.StepStarted(step=s.name, attempt=attempt, resumed=action.resumed))
        try:
            result = self._execute(run, s, attempt, st.document, context, _Scope(), resumed=bool(reattach))
        except m.StepError as exc:
            self._progress(run, ev.StepFailed(step=s.name, attempt=attempt, error=exc.error, cause=exc.cause))
            return
        self._succeeded(run, interp.after_success(s, attempt, st.document, result))

    def _succeeded(self, run: _Run, a: interp.Advance) -> None:
        self._progress(run, ev.StepSucceeded(step=a.step, attempt=a.attempt, document=a.document, next=a.next))
