"""The search workflow's rendered state machine, executed by moto's Step Functions engine: ask,
the Map of trials with the watch loop (Choice + Wait), the loop back to ask, the stop and the
finish, with the Lambda steps' answers scripted (moto's Lambda returns queued results)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from runtime.workflows import asl
from runtime.workflows import definitions as d
from tests.integration.test_asl_moto import SFN_ROLE, SUBS, aws, lambda_results, run

pytestmark = pytest.mark.integration
__all__ = ["aws"]  # the moto fixture, shared with test_asl_moto
PREPARED = {"train_uri": "s3://b/t.jsonl", "validation_uri": "s3://b/v.jsonl", "init_uri": "s3://b/", "folds": []}


def machine(sfn: Any) -> str:
    body = asl.render(d.WORKFLOWS["study"](poll_seconds=1), substitutions=SUBS)
    assert asl.placeholders(body) == set()
    return str(sfn.create_state_machine(name="study", definition=json.dumps(body), roleArn=SFN_ROLE)["stateMachineArn"])


def trial(n: int) -> dict[str, Any]:
    return {"study_id": "s1", "number": n, "prepared": PREPARED}


@pytest.mark.slow  # ~7 s: moto runs the Wait state for real
def test_a_study_asks_runs_watches_and_finishes_on_step_functions(aws: dict[str, Any]) -> None:
    arn = machine(aws["sfn"])
    # Given steps that ask one trial, watch it twice, then say the budget is spent
    lambda_results(
        PREPARED,  # Begin
        {"round": 1, "trials": [trial(0)], "stop": False, "reason": ""},  # Ask
        {"done": False, "jobs": ["tlm-trial-s1-0"]},  # Launch
        {"done": False},  # Watch (then Wait 1 s)
        {"done": True},  # Watch
        {"round": 1, "trials": [], "stop": True, "reason": "budget"},  # Ask again
        {"reason": "budget", "best_trial": 0, "model_id": "m1"},  # Finish
    )
    out = run(aws["sfn"], arn, {"study_id": "s1", "project_id": "p1"})
    assert out["status"] == "SUCCEEDED", out
    result = json.loads(out["output"])
    assert result["finished"] == {"reason": "budget", "best_trial": 0, "model_id": "m1"}
    entered = [e["stateEnteredEventDetails"]["name"] for e in out["history"] if "stateEnteredEventDetails" in e]
    assert entered.count("Ask") == 2 and entered.count("Watch") == 2 and "Wait" in entered and "Finish" in entered


def test_the_map_runs_every_trial_of_a_round(aws: dict[str, Any]) -> None:
    arn = machine(aws["sfn"])
    lambda_results(PREPARED, {"round": 1, "trials": [trial(0), trial(1), trial(2)], "stop": False, "reason": ""},
                   {"done": True}, {"done": True}, {"done": True},  # three launches: ended already (a resume)
                   {"round": 1, "trials": [], "stop": True, "reason": "target"}, {"reason": "target"})  # fmt: skip
    out = run(aws["sfn"], arn, {"study_id": "s1", "project_id": "p1"})
    assert out["status"] == "SUCCEEDED", out
    launched = [e for e in out["history"] if e.get("stateEnteredEventDetails", {}).get("name") == "Launch"]
    assert len(launched) == 3


def test_the_study_rendering_names_its_lambda_steps() -> None:
    body = asl.render(d.all_workflows()["study"], substitutions=SUBS)
    text = json.dumps(body)
    for fn in ("study_begin", "study_ask", "study_launch_trial", "study_watch_trial", "study_finish"):
        assert f"tlm-step-{fn}" in text
    assert body["States"]["Trials"]["Type"] == "Map" and body["States"]["Trials"]["MaxConcurrency"] == 0
