"""The ``release`` workflow (issue 14): one update of a deployment, as data.

    Launch -> Health (poll until the candidate slot is healthy) -> Shift (the next share of the
    strategy's schedule) -> Bake (poll the candidate's metrics for bake_s; the pure verdict of
    ``domain.releases.verdict``) -> Shift again ... -> Finish | Rollback

Every step returns ``{"next": ...}`` and a Choice after it routes on that string:
``ended`` (the update is no longer current: stopped, rolled back by hand, superseded) goes to
``Done``; ``failed`` / ``breach`` go to ``Rollback`` (traffic back to the primary, the cause
recorded); an error in any step is caught into ``Rollback`` too, whose own failure ends in the
failure tail. Steps run at least once: each re-reads the deployment and decides nothing twice.

Input (``runtime.reactions.releases.release_run_input``): ``deployment_id``, ``update_id``,
``project_id``, ``version_id``, ``kind``.
"""

from __future__ import annotations

from typing import Any

from domain.workflows import model as m
from runtime.workflows.definitions import failure_tail, step

STEPS = ("release_launch", "release_health", "release_shift", "release_bake", "release_finish",
         "release_rollback")  # fmt: skip
IDS = {"deployment_id": "$.deployment_id", "update_id": "$.update_id"}


def _task(name: str, function: str, result: str, *, catch_to: str = "Rollback", extra: dict[str, Any] | None = None,
          next: str) -> m.StepTask:  # fmt: skip
    return step(name, function, parameters={**IDS, **(extra or {})}, result_path=result, next=next,
                catch_to=catch_to, timeout_s=120)  # fmt: skip


def _route(name: str, path: str, routes: dict[str, str], default: str) -> m.Choice:
    rules = tuple(m.ChoiceRule(variable=path, op="string_equals", value=k, next=t) for k, t in routes.items())
    return m.Choice(name=name, choices=rules, default=default)


def release_workflow(*, poll_seconds: int = 10, **_: Any) -> m.Workflow:
    """``poll_seconds``: the wait between health and metrics polls (1 s locally)."""
    wait = max(1, min(int(poll_seconds), 30))
    states: list[Any] = [
        _task("Launch", "release_launch", "$.launch", next="Launched"),
        _route("Launched", "$.launch.next", {"ended": "Done"}, "Health"),
        _task("Health", "release_health", "$.health", extra={"launch": "$.launch"}, next="Healthy"),
        _route("Healthy", "$.health.next", {"ended": "Done", "healthy": "Shift", "failed": "Rollback"},
               "Health wait"),  # fmt: skip
        m.Wait(name="Health wait", seconds=wait, next="Health"),
        _task("Shift", "release_shift", "$.shift", next="Shifted"),
        _route("Shifted", "$.shift.next", {"ended": "Done"}, "Bake"),
        _task("Bake", "release_bake", "$.bake", extra={"shift": "$.shift"}, next="Baked"),
        _route("Baked", "$.bake.next",
               {"ended": "Done", "breach": "Rollback", "finish": "Finish", "shift": "Shift"}, "Bake wait"),  # fmt: skip
        m.Wait(name="Bake wait", seconds=wait, next="Bake"),
        _task("Finish", "release_finish", "$.finish", next="Done"),
        step("Rollback", "release_rollback", parameters={**IDS, "doc": "$"}, result_path="$.rollback",
             next="Done", timeout_s=120),  # fmt: skip
        m.Succeed(name="Done"),
        *failure_tail("release"),
    ]
    return m.Workflow(name="release", start_at="Launch", states=tuple(states),
                      comment="launch -> wait healthy -> shift -> bake -> finish or roll back")  # fmt: skip
