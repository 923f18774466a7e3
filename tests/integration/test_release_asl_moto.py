"""The ``release`` workflow's ASL executed by moto's Step Functions engine: a canary that bakes
and finishes, and one whose bake breaches and rolls back; every Lambda request the execution
makes is valid against botocore's Lambda model (Invoke), and the step payloads carry the ids
and the routing fields the steps need. Lambda tasks answer from moto's queue (scripted results:
what the real steps return, see runtime.workflows.steps.release)."""

from __future__ import annotations

import json
from typing import Any

import botocore.session
import pytest
from botocore.validate import ParamValidator

from runtime.workflows import asl
from runtime.workflows import definitions as d
from runtime.workflows.release_workflow import STEPS
from tests.integration.test_asl_moto import SFN_ROLE, SUBS, aws, lambda_results, run  # noqa: F401

pytestmark = [pytest.mark.integration, pytest.mark.slow]
INPUT = {"deployment_id": "d1", "update_id": "u1", "project_id": "p1", "version_id": "m-v2", "kind": "update"}
LAMBDA = botocore.session.get_session().get_service_model("lambda")


def machine(sfn: Any) -> str:
    body = asl.render(d.WORKFLOWS["release"](poll_seconds=1), substitutions=SUBS)
    assert asl.placeholders(body) == set()
    made = sfn.create_state_machine(name="release", definition=json.dumps(body), roleArn=SFN_ROLE)
    return str(made["stateMachineArn"])


def lambda_requests(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The Invoke request of every Lambda task the execution scheduled, checked against botocore's
    model (FunctionName: the rendered ARN; Payload: the task's input); returns the payloads."""
    out = []
    for e in history:
        if e["type"] != "LambdaFunctionScheduled":
            continue
        details = e["lambdaFunctionScheduledEventDetails"]
        request = {"FunctionName": details["resource"], "Payload": details["input"].encode()}
        report = ParamValidator().validate(request, LAMBDA.operation_model("Invoke").input_shape)
        assert not report.has_errors(), report.generate_report()
        assert details["resource"].split(":function:")[1].removeprefix("tlm-step-") in STEPS
        out.append(json.loads(details["input"]))
    return out


def entered(history: list[dict[str, Any]]) -> list[str]:
    return [e["stateEnteredEventDetails"]["name"] for e in history if "stateEnteredEventDetails" in e]


def test_canary_bakes_shifts_again_and_finishes(aws: dict[str, Any]) -> None:  # noqa: F811
    lambda_results(
        {"next": "launched", "started_at": 1.0}, {"next": "wait"}, {"next": "healthy"},
        {"next": "shifted", "stage": 0, "final": False}, {"next": "shift"},
        {"next": "shifted", "stage": 1, "final": True}, {"next": "wait"}, {"next": "finish"},
        {"next": "finished"},
    )  # fmt: skip
    out = run(aws["sfn"], machine(aws["sfn"]), INPUT)
    assert out["status"] == "SUCCEEDED", out
    states = entered(out["history"])
    assert states.count("Shift") == 2 and states.count("Bake wait") == 1 and "Finish" in states
    assert "Rollback" not in states
    payloads = lambda_requests(out["history"])
    assert len(payloads) == 9
    assert all(p["deployment_id"] == "d1" and p["update_id"] == "u1" for p in payloads)
    assert payloads[1]["launch"]["started_at"] == 1.0  # health sees when the slot was launched
    assert payloads[4]["shift"] == {"next": "shifted", "stage": 0, "final": False}


def test_a_breach_while_baking_rolls_back_with_its_cause(aws: dict[str, Any]) -> None:  # noqa: F811
    lambda_results(
        {"next": "launched", "started_at": 1.0}, {"next": "healthy"}, {"next": "shifted", "stage": 0, "final": False},
        {"next": "breach", "cause": "error rate 0.5 > 0.05"}, {"next": "rolled_back"},
    )  # fmt: skip
    out = run(aws["sfn"], machine(aws["sfn"]), INPUT)
    assert out["status"] == "SUCCEEDED", out
    states = entered(out["history"])
    assert states[-2:] == ["Rollback", "Done"] and "Finish" not in states
    payload = lambda_requests(out["history"])[-1]
    assert payload["doc"]["bake"]["cause"] == "error rate 0.5 > 0.05"


def test_an_update_that_ended_elsewhere_ends_the_run(aws: dict[str, Any]) -> None:  # noqa: F811
    lambda_results({"next": "launched", "started_at": 1.0}, {"next": "ended"})
    out = run(aws["sfn"], machine(aws["sfn"]), INPUT)
    assert out["status"] == "SUCCEEDED" and entered(out["history"])[-1] == "Done"
