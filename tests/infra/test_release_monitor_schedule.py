"""The release monitor on AWS: an EventBridge schedule invokes a thin Lambda that calls
``ReleaseMonitor.watch()`` (what ``tlm serve`` does every 30 s locally). The synthesized template
holds the rule, its target and the invoke permission; the handler runs on moto from the template's
environment under its own role, and its calls are allowed by that role's policy. (A live
deployment sampled by it, and the audit of every grant, are in tests/infra/test_aws_chain.py.)"""

from __future__ import annotations

from typing import Any

import pytest
from moto import mock_aws

from tests.iam_audit import denials, describe
from tests.infra.conftest import resources

pytestmark = pytest.mark.infra
HANDLER = "functions.events.release_monitor.handler"


def _monitor(template: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    found = [(k, v) for k, v in resources(template, "AWS::Lambda::Function").items()
             if v["Properties"].get("Handler") == HANDLER]  # fmt: skip
    assert len(found) == 1, found
    return found[0]


def test_the_template_schedules_the_monitor_every_few_minutes(templates):
    t = templates["Workflows"]
    fid, fn = _monitor(t)
    rules = [r["Properties"] for r in resources(t, "AWS::Events::Rule").values()
             if any(x["Arn"] == {"Fn::GetAtt": [fid, "Arn"]} for x in r["Properties"].get("Targets", []))]  # fmt: skip
    assert [r["ScheduleExpression"] for r in rules] == ["rate(5 minutes)"]  # tlm:release-monitor-minutes (default)
    assert rules[0]["State"] == "ENABLED"
    perms = [p["Properties"] for p in resources(t, "AWS::Lambda::Permission").values()
             if p["Properties"]["FunctionName"] == {"Fn::GetAtt": [fid, "Arn"]}]  # fmt: skip
    assert [p["Principal"] for p in perms] == ["events.amazonaws.com"]
    env = fn["Properties"]["Environment"]["Variables"]
    assert {"TLM_SERVING_IMAGE_URI", "TLM_SERVING_ROLE_ARN", "TLM_SERVING_PREFIX", "TLM_EVENTS_TABLE"} <= set(env)
    # least privilege: it reads endpoints and metrics; it never creates, deletes or invokes one
    role = fn["Properties"]["Role"]["Fn::GetAtt"][0]
    actions = {a for p in resources(t, "AWS::IAM::Policy").values() if {"Ref": role} in p["Properties"]["Roles"]
               for st in p["Properties"]["PolicyDocument"]["Statement"]
               for a in (st["Action"] if isinstance(st["Action"], list) else [st["Action"]])}  # fmt: skip
    assert {"sagemaker:ListEndpoints", "sagemaker:DescribeEndpoint", "cloudwatch:GetMetricData"} <= actions
    assert not {a for a in actions if a.startswith(("sagemaker:Create", "sagemaker:Delete", "iam:"))}
    assert "sagemaker:InvokeEndpoint" not in actions


def test_the_scheduled_handler_runs_on_moto_within_its_role(templates, tmp_path):
    from tests.aws_chain import Chain
    from tests.infra.test_aws_chain import SCHEDULED

    with mock_aws():
        c = Chain(templates, tmp_path)
        # When EventBridge's scheduled event arrives and no deployment is live
        fn = c.function(HANDLER)
        answer = c.invoke(fn, SCHEDULED)
        # Then it sampled none, and every call it made is allowed by its synthesized policy
        assert answer == {"deployments": 0}
        calls = c.rec.calls[fn.role]
        assert {r.action for r in calls} == {"sagemaker:ListEndpoints"}
        stack, role = fn.role.split(".", 1)
        assert denials(c.cloud.policy(stack, role), calls) == [], describe(calls)
