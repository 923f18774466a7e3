"""The run-status rule and the reactions Lambda in the synthesized Projector stack: only TLM's
state machines' status changes reach the status function (retried, then kept in the queue), and
the reactions may start exactly the state machines their reactions start."""

from __future__ import annotations

import json

import pytest

from infra.stacks import projector as projector_stack
from runtime.reactions.runs import STARTS
from tests.infra.conftest import resources

pytestmark = pytest.mark.infra


def _role_statements(template: dict, role_prefix: str) -> list[dict]:
    out = []
    for pol in resources(template, "AWS::IAM::Policy").values():
        if any(r["Ref"].startswith(role_prefix) for r in pol["Properties"]["Roles"]):
            out += pol["Properties"]["PolicyDocument"]["Statement"]
    return out


def test_status_changes_of_tlm_state_machines_feed_the_run_status_function(templates):
    t = templates["Projector"]
    (rule,) = resources(t, "AWS::Events::Rule").values()
    pattern = rule["Properties"]["EventPattern"]
    assert pattern["source"] == ["aws.states"]
    assert pattern["detail-type"] == ["Step Functions Execution Status Change"]
    (prefix,) = pattern["detail"]["stateMachineArn"]
    assert "Tlm-" in json.dumps(prefix["prefix"])  # <prefix>-<workflow> machines only
    (target,) = rule["Properties"]["Targets"]
    assert target["Arn"]["Fn::GetAtt"][0].startswith("RunStatus")
    assert target["RetryPolicy"]["MaximumRetryAttempts"] == projector_stack.RETRY_ATTEMPTS
    (queue_id,) = resources(t, "AWS::SQS::Queue")
    assert target["DeadLetterConfig"]["Arn"] == {"Fn::GetAtt": [queue_id, "Arn"]}
    fns = [f["Properties"] for f in resources(t, "AWS::Lambda::Function").values()]
    status = next(p for p in fns if p.get("Handler") == "functions.events.handler.handler")
    assert status["Environment"]["Variables"]["TLM_STATE_MACHINE_PREFIX"] == "Tlm"


def test_reactions_start_only_the_workflows_they_react_with(templates):
    statements = _role_statements(templates["Projector"], "Reactions")
    states = [st for st in statements if any(str(a).startswith("states:") for a in [st["Action"]] if a)]
    (start,) = states
    assert start["Action"] == "states:StartExecution"
    names = sorted(json.dumps(r).rsplit(":stateMachine:", 1)[1].strip('"]}') for r in start["Resource"])
    assert names == sorted(f"Tlm-{w}" for w in STARTS)
    for st in _role_statements(templates["Projector"], "RunStatus"):
        actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
        assert not [a for a in actions if a.startswith("states:")]  # it reads events only
