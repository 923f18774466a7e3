"""The next-state logic of a workflow, pure: given where a run (or a Map item, a Parallel branch)
stands, what happens next. Runners only carry out the effects (jobs, step functions, waits,
child runs, events) and feed the outcome back.

A :class:`Cursor` is where a sequence of states stands: the state to run (None: the start),
its attempt, the document, whether the last state ended the workflow, and a failure not yet
handled. :func:`next_action` turns it into one :data:`Action`:

- :class:`Finish` — the workflow ends (Succeed, Fail, the end of a state with ``end``, or an
  unhandled failure);
- :class:`Advance` — an instantaneous state (Pass, Choice) ran: record it and move on;
- :class:`Execute` — a state with effects must run (task, wait, Map, Parallel, child);
- :class:`Retry` / :class:`Caught` — the policy of a failed state (ASL's Retrier and Catcher).

After an ``Execute``, :func:`after_success` gives the ``Advance`` (the result at ``result_path``),
and :func:`failed` the cursor with the failure set. :func:`moved` applies an action to a cursor
(what the run aggregate's events do for a whole run). :func:`fan_in` decides a Map or Parallel
from its items' outcomes (``tolerated_failure_percentage``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

from domain.workflows import model as m
from domain.workflows import paths

RUNTIME_ERROR = "States.Runtime"
NO_CHOICE = "States.NoChoiceMatched"


@dataclass(frozen=True)
class Cursor:
    step: str | None = None  # the state to run; None: the workflow's start
    attempt: int = 1
    document: Any = None
    at_end: bool = False
    failure: tuple[str, str] | None = None  # (error, cause) of the state ``step``, not yet handled
    current_step: str | None = None  # started and not finished (a restart resumes it)


@dataclass(frozen=True)
class Finish:
    status: Literal["succeeded", "failed"]
    output: Any = None
    error: str = ""
    cause: str = ""
    step: str | None = None


@dataclass(frozen=True)
class Advance:
    step: str
    attempt: int
    document: Any
    next: str | None  # None: the workflow ends after this state


@dataclass(frozen=True)
class Execute:
    state: Any
    attempt: int
    resumed: bool  # the state had started before a restart


@dataclass(frozen=True)
class Retry:
    step: str
    attempt: int  # the attempt about to start
    delay_s: float


@dataclass(frozen=True)
class Caught:
    step: str
    error: str
    cause: str
    next: str
    document: Any


Action = Finish | Advance | Execute | Retry | Caught


def next_action(defn: m.Workflow, cur: Cursor, context: Mapping[str, Any] | None = None) -> Action:
    if cur.failure is not None:
        return on_failure(defn.state(cur.step or defn.start_at), cur.attempt, cur.document, *cur.failure)
    if cur.at_end:
        return Finish("succeeded", output=cur.document)
    name = cur.step or defn.start_at
    s = defn.state(name)
    if isinstance(s, m.Succeed):
        return Finish("succeeded", output=cur.document)
    if isinstance(s, m.Fail):
        return Finish("failed", error=s.error, cause=s.cause, step=s.name)
    if isinstance(s, m.Pass | m.Choice):
        try:
            doc, nxt = instant(s, cur.document, {**(context or {}), "State": {"Name": name}})
        except m.StepError as exc:  # neither Pass nor Choice takes Retry or Catch
            return Finish("failed", error=exc.error, cause=exc.cause, step=s.name)
        return Advance(s.name, 1, doc, nxt)
    return Execute(s, cur.attempt, resumed=cur.current_step == name)


def instant(s: m.Pass | m.Choice, doc: Any, context: Mapping[str, Any] | None = None) -> tuple[Any, str | None]:
    """Pass and Choice: (document after, next state)."""
    if isinstance(s, m.Pass):
        if s.parameters is not None:
            try:
                result = paths.resolve(s.parameters, doc, dict(context or {}))
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
        raise m.StepError(NO_CHOICE, f"no rule of {s.name!r} matched")
    return doc, s.default


def on_failure(s: Any, attempt: int, doc: Any, error: str, cause: str) -> Retry | Caught | Finish:
    """ASL: the first retrier whose errors match decides whether attempts are left; else the
    first matching catcher (the error at its ``result_path``); else the workflow fails.
    ``States.Runtime`` (a bad path) is never retried nor caught."""
    if error != RUNTIME_ERROR:
        for r in getattr(s, "retry", ()):
            if m.error_matches(r.errors, error):
                if attempt <= r.max_attempts:
                    return Retry(s.name, attempt + 1, r.delay_s(attempt))
                break
        for c in getattr(s, "catch", ()):
            if m.error_matches(c.errors, error):
                caught = paths.put(doc, c.result_path, {"Error": error, "Cause": cause})
                return Caught(s.name, error, cause, c.next, caught)
    return Finish("failed", error=error, cause=cause, step=s.name)


def after_success(s: Any, attempt: int, doc: Any, result: Any) -> Advance:
    """The state ``s`` (with effects) produced ``result``: the document after it and where next."""
    if isinstance(s, m.Wait):
        new_doc = doc
    elif isinstance(s, m.RecordTask):
        new_doc = paths.put(doc, s.result_path, None) if s.result_path else doc
    else:
        new_doc = paths.put(doc, s.result_path, result)
    return Advance(s.name, attempt, new_doc, None if s.end else s.next)


def failed(cur: Cursor, error: str, cause: str) -> Cursor:
    return replace(cur, failure=(error, cause), current_step=None)


def moved(cur: Cursor, action: Advance | Retry | Caught) -> Cursor:
    """The cursor after ``action`` (the fold the run aggregate does with events)."""
    if isinstance(action, Advance):
        return Cursor(step=action.next, attempt=1, document=action.document, at_end=action.next is None)
    if isinstance(action, Retry):
        return Cursor(step=action.step, attempt=action.attempt, document=cur.document)
    return Cursor(step=action.next, attempt=1, document=action.document)


# ---------------------------------------------------------------- Map and Parallel


def map_items(s: m.MapState, doc: Any) -> list[Any]:
    try:
        items = paths.get(doc, s.items_path)
    except paths.PathError as exc:
        raise m.StepError(RUNTIME_ERROR, str(exc)) from exc
    if not isinstance(items, list):
        raise m.StepError(RUNTIME_ERROR, f"{s.items_path} is not a list")
    return items


def tolerated_failures(s: Any, n: int) -> int:
    """How many of ``n`` items may fail before the state fails (0 for Parallel)."""
    pct = getattr(s, "tolerated_failure_percentage", 0) or 0
    return int(n * pct / 100 + 1e-9)


def fan_in(s: Any, outcomes: Mapping[int, Mapping[str, Any]], n: int) -> list[Any]:
    """The result of a Map / Parallel whose ``n`` items ended with ``outcomes`` (index ->
    ``{"output"}`` or ``{"error", "cause"}``): the outputs in order, a tolerated failed item as
    ``{"Error", "Cause"}``. Raises StepError: the first failed item's error, or
    ``States.ExceedToleratedFailureThreshold`` past the tolerance."""
    failures = sorted(i for i, o in outcomes.items() if "error" in o)
    allowed = tolerated_failures(s, n)
    if failures and (len(failures) > allowed):
        first = outcomes[failures[0]]
        if allowed == 0 and not getattr(s, "tolerated_failure_percentage", 0):
            raise m.StepError(str(first["error"]), str(first.get("cause", "")))
        raise m.StepError(
            m.TOLERANCE_EXCEEDED,
            f"{len(failures)} of {n} items failed (tolerated: {allowed}); first: {first['error']}",
        )
    out = []
    for i in range(n):
        o = outcomes[i]
        out.append({"Error": o["error"], "Cause": o.get("cause", "")} if "error" in o else o["output"])
    return out


def should_abort(s: Any, outcomes: Mapping[int, Mapping[str, Any]], n: int) -> bool:
    """Stop the remaining items: the state will fail whatever they do."""
    return sum(1 for o in outcomes.values() if "error" in o) > tolerated_failures(s, n)
