"""Runs in the log on AWS: Step Functions execution status changes (an EventBridge rule, detail
type ``Step Functions Execution Status Change``) become the run's lifecycle events in its stream
``workflowrun-<execution name>``:

- ``RUNNING`` -> ``workflowrun.started`` (input, workflow, ``backend="stepfunctions"``; a child
  execution's ``parent_run_id`` from the ``AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID`` its parent's
  ChildWorkflow state put in its input, the key itself left out of the recorded input);
- ``SUCCEEDED`` -> ``workflowrun.succeeded`` (output); ``FAILED`` / ``TIMED_OUT`` ->
  ``workflowrun.failed`` (error, cause); ``ABORTED`` -> ``workflowrun.cancelled``.

EventBridge delivers at least once and in no guaranteed order. So an end that arrives before its
start appends the start first (from the same detail: it carries the input and ``startDate``), a
start after the end is a no-op, and a redelivered status changes nothing: the stream is read
first, and each phase's append carries an idempotency key (``sfn-status:<execution>:started`` /
``:ended``) that a racing duplicate cannot pass. Times are the execution's own (``startDate``,
``stopDate``), so the ``runs`` view shows Step Functions' clock. A status of a state machine
that is not TLM's (another prefix) or that TLM does not record (``PENDING_REDRIVE``) is ignored.
A run has one life in the log: a redriven execution's later statuses are answered ``duplicate``
(TLM starts a new run rather than redriving one).

The appends go through a ``RunLog``: on DynamoDB the state machine's own failure tail takes the
stream's versions from a sequence item, so this writer must too
(``runtime.adapters.dynamodb.run_log.SequencedRunLog``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from domain.errors import Invalid
from domain.events import DomainEvent, EventMetadata
from domain.records import NewEvent, RecordedEvent
from domain.workflows import events as ev
from domain.workflows.run import WorkflowRun

STARTED_BY = "AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID"  # a child execution's input: its parent's ARN

DETAIL_TYPE = "Step Functions Execution Status Change"
SOURCE = "aws.states"
ACTOR = "stepfunctions"
END_TYPES = (ev.RunSucceeded.event_type, ev.RunFailed.event_type, ev.RunCancelled.event_type)


class RunLog(Protocol):
    def read(self, stream_id: str) -> list[RecordedEvent]: ...

    def append_next(self, stream_id: str, events: Sequence[NewEvent], idempotency_keys: Sequence[str]) -> bool:
        """Append after whatever the stream holds; False (nothing appended) when one of the keys
        was used already."""
        ...


def _time(ms: Any) -> datetime:
    if isinstance(ms, int | float):
        return datetime.fromtimestamp(ms / 1000, tz=UTC)
    if isinstance(ms, str) and ms:
        return datetime.fromisoformat(ms.replace("Z", "+00:00"))
    raise Invalid("an execution status change needs startDate (epoch milliseconds)", field="detail.startDate")


def _json(text: Any) -> Any:
    if text is None or text == "":
        return None
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return text


class RunStatusRecorder:
    def __init__(self, log: RunLog, *, state_machine_prefix: str | None) -> None:
        self.log = log
        self.prefix = state_machine_prefix

    def workflow_of(self, state_machine_arn: str) -> str | None:
        """``arn:...:stateMachine:<prefix>-<workflow>`` -> ``<workflow>`` (None: not TLM's)."""
        _, _, name = state_machine_arn.rpartition(":stateMachine:")
        if not name or not self.prefix or not name.startswith(f"{self.prefix}-"):
            return None
        return name[len(self.prefix) + 1 :] or None

    def record(self, event: dict[str, Any]) -> str:
        """Record one EventBridge event; returns ``recorded``, ``duplicate`` or ``ignored``."""
        if event.get("detail-type") != DETAIL_TYPE or event.get("source") != SOURCE:
            return "ignored"
        detail = event.get("detail")
        if not isinstance(detail, dict):
            raise Invalid("the event has no detail", field="detail")
        for field in ("executionArn", "stateMachineArn", "name", "status"):
            if not isinstance(detail.get(field), str) or not detail[field]:
                raise Invalid(f"the execution status change has no {field}", field=f"detail.{field}")
        workflow = self.workflow_of(detail["stateMachineArn"])
        status = detail["status"]
        if workflow is None or status not in ("RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"):
            return "ignored"
        run_id, execution = detail["name"], detail["executionArn"]
        stream = WorkflowRun.stream_id(run_id)
        have = {r.type for r in self.log.read(stream)}
        started = ev.RunStarted.event_type in have
        if status == "RUNNING" and started or status != "RUNNING" and have & set(END_TYPES):
            return "duplicate"
        events: list[tuple[DomainEvent, datetime]] = []
        keys: list[str] = []
        if not started:
            run_input = _json(detail.get("input"))
            run_input = dict(run_input) if isinstance(run_input, dict) else {}
            parent = run_input.pop(STARTED_BY, None)  # a child run: its parent's execution ARN
            start = ev.RunStarted(
                run_id=run_id,
                workflow=workflow,
                input=run_input,
                backend="stepfunctions",
                parent_run_id=str(parent).rsplit(":", 1)[-1] if parent else None,
            )
            events.append((start, _time(detail.get("startDate"))))
            keys.append(f"sfn-status:{execution}:started")
        if status != "RUNNING":
            at = _time(detail.get("stopDate") or detail.get("startDate"))
            events.append((self._end(status, detail), at))
            keys.append(f"sfn-status:{execution}:ended")
        new = [
            NewEvent.of(
                e,
                EventMetadata(actor=ACTOR, occurred_at=at, correlation_id=run_id, reason=f"execution status {status}"),
            )  # fmt: skip
            for e, at in events
        ]
        return "recorded" if self.log.append_next(stream, new, keys) else "duplicate"

    @staticmethod
    def _end(status: str, detail: dict[str, Any]) -> DomainEvent:
        if status == "SUCCEEDED":
            return ev.RunSucceeded(output=_json(detail.get("output")))
        if status == "ABORTED":
            return ev.RunCancelled(step=None)
        error = detail.get("error") or ("States.Timeout" if status == "TIMED_OUT" else "States.Failed")
        return ev.RunFailed(error=str(error), cause=str(detail.get("cause") or ""))
