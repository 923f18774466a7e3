"""The search workflow, as data: a study is a process on the workflow engine, not a new engine.

    Begin -> Ask -> Stop? --no--> Trials (Map, one item per trial of the round) -> Ask ...
                        \\--yes--> Finish -> Done

``Ask`` returns a round of ``parallelism`` trials (the Map runs them all at once, so the
parallelism and the budget are read again at every round: a change takes effect at the next
round). Each Map item: ``Launch`` (the trial's training job(s)) -> ``Watch`` (intermediate values,
pruning through ``JobRunner.stop``, and the tell when the job ends) -> ``Watched?`` -> ``Wait`` ->
``Watch`` ...; a step that fails for good goes to ``TrialError`` (the trial is recorded failed and
the study goes on). ``Finish`` registers the best trial's model and config.

Input: ``{"study_id", "project_id"}``. Steps: ``runtime.workflows.steps.study``.
"""

from __future__ import annotations

from typing import Any

from domain.workflows import model as m
from runtime.workflows.definitions import failure_tail, map_step, step

STEP_FUNCTIONS = (
    "study_begin",
    "study_ask",
    "study_launch_trial",
    "study_watch_trial",
    "study_trial_error",
    "study_finish",
)


def trial_iterator(poll_seconds: int) -> m.Workflow:
    item = {"study_id": "$.study_id", "number": "$.number", "prepared": "$.prepared"}
    return m.Workflow(
        name="study-trial",
        start_at="Launch",
        states=(
            step(
                "Launch",
                "study_launch_trial",
                parameters=item,
                result_path="$.launch",
                next="Launched",
                catch_to="TrialError",
            ),  # fmt: skip
            m.Choice(
                name="Launched",
                choices=(m.ChoiceRule(variable="$.launch.done", op="boolean_equals", value=True, next="Ended"),),
                default="Watch",
            ),
            step(
                "Watch",
                "study_watch_trial",
                parameters=item,
                result_path="$.watch",
                next="Watched",
                catch_to="TrialError",
            ),  # fmt: skip
            m.Choice(
                name="Watched",
                choices=(m.ChoiceRule(variable="$.watch.done", op="boolean_equals", value=True, next="Ended"),),
                default="Wait",
            ),
            m.Wait(name="Wait", seconds=max(1, poll_seconds), next="Watch"),
            step(
                "TrialError",
                "study_trial_error",
                parameters={"study_id": "$.study_id", "number": "$.number", "error": "$.error"},
                result_path="$.recorded",
                next="Ended",
                catch_to=None,
            ),  # fmt: skip
            m.Succeed(name="Ended"),
        ),
    )


def study_workflow(*, poll_seconds: int = 60, **_options: Any) -> m.Workflow:
    """``poll_seconds``: how often a running trial's job is watched (locally 1 s)."""
    return m.Workflow(
        name="study",
        comment="begin -> ask a round -> Map(trial jobs, watched and pruned) -> ask ... -> register the best",
        start_at="Begin",
        states=(
            step(
                "Begin", "study_begin", parameters={"study_id": "$.study_id"}, result_path="$.prepared", next="Ask"
            ),  # fmt: skip
            step(
                "Ask",
                "study_ask",
                parameters={"study_id": "$.study_id", "prepared": "$.prepared"},
                result_path="$.asked",
                next="Stop",
            ),  # fmt: skip
            m.Choice(
                name="Stop",
                choices=(m.ChoiceRule(variable="$.asked.stop", op="boolean_equals", value=True, next="Finish"),),
                default="Trials",
            ),
            map_step(
                "Trials",
                trial_iterator(poll_seconds),
                items_path="$.asked.trials",
                result_path=None,
                next="Ask",
                max_concurrency=0,
            ),  # fmt: skip
            step(
                "Finish",
                "study_finish",
                parameters={"study_id": "$.study_id", "asked": "$.asked"},
                result_path="$.finished",
                next="Done",
                timeout_s=900,
            ),  # fmt: skip
            m.Succeed(name="Done"),
            *failure_tail("study"),
        ),
    )
