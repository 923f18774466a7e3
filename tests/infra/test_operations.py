"""Operations on the synthesized templates: alarms reach a person (customer-managed KMS key that
CloudWatch may use, e-mail subscription and budget as parameters), Lambda errors/throttles, API
5XX, failed executions and DLQ depth are alarmed, reserved concurrency is a parameter, job
scratch space expires, the retained buckets can be renamed for a redeploy, and the CLI's app
client allows the sign-in flow tlm login uses."""

from __future__ import annotations

import pytest

from tests.infra.conftest import resources

pytestmark = pytest.mark.infra


def _alarm_metrics(template: dict) -> list[tuple[str, str]]:
    return [
        (a["Properties"].get("Namespace"), a["Properties"].get("MetricName"))
        for a in resources(template, "AWS::CloudWatch::Alarm").values()
    ]


def test_alarm_topic_uses_a_customer_managed_key_cloudwatch_can_use(templates):
    obs = templates["Observability"]
    (topic,) = resources(obs, "AWS::SNS::Topic").values()
    key_ref = topic["Properties"]["KmsMasterKeyId"]
    assert "Fn::GetAtt" in key_ref or "Ref" in key_ref  # a key of this stack, not alias/aws/sns
    (key,) = resources(obs, "AWS::KMS::Key").values()
    assert key["Properties"]["EnableKeyRotation"] is True
    statements = key["Properties"]["KeyPolicy"]["Statement"]
    cw = [s for s in statements if s.get("Principal", {}).get("Service") == "cloudwatch.amazonaws.com"]
    assert cw and {"kms:Decrypt", "kms:GenerateDataKey*"} <= set(cw[0]["Action"])
    for alarm in resources(obs, "AWS::CloudWatch::Alarm").values():
        assert alarm["Properties"]["AlarmActions"], alarm


def test_email_subscription_and_budget_are_parameters(templates):
    obs = templates["Observability"]
    assert {"AlarmEmail", "MonthlyBudgetUsd"} <= set(obs["Parameters"])
    (sub,) = resources(obs, "AWS::SNS::Subscription").values()
    assert sub["Properties"]["Protocol"] == "email" and sub["Properties"]["Endpoint"] == {"Ref": "AlarmEmail"}
    assert sub["Condition"] in obs["Conditions"]
    (budget,) = resources(obs, "AWS::Budgets::Budget").values()
    assert budget["Condition"] in obs["Conditions"]
    limit = budget["Properties"]["Budget"]["BudgetLimit"]
    assert limit["Amount"] == {"Ref": "MonthlyBudgetUsd"} and limit["Unit"] == "USD"
    subscribers = [s for n in budget["Properties"]["NotificationsWithSubscribers"] for s in n["Subscribers"]]
    assert {s["SubscriptionType"] for s in subscribers} == {"SNS"}


def test_alarms_on_lambda_errors_throttles_api_5xx_failed_executions_and_dlq(templates):
    obs = templates["Observability"]
    metrics = _alarm_metrics(obs)
    functions = sum(len(resources(templates[s], "AWS::Lambda::Function")) for s in ("Api", "Projector", "Uploads"))
    assert metrics.count(("AWS/Lambda", "Errors")) >= functions
    assert metrics.count(("AWS/Lambda", "Throttles")) == metrics.count(("AWS/Lambda", "Errors"))
    assert ("AWS/ApiGateway", "5XXError") in metrics
    assert ("AWS/States", "ExecutionsFailed") in metrics
    assert metrics.count(("AWS/SQS", "ApproximateNumberOfMessagesVisible")) == 2  # projector DLQ, upload failures


def test_api_reserved_concurrency_is_a_parameter(templates):
    api = templates["Api"]
    assert "ApiReservedConcurrency" in api["Parameters"]
    fns = [
        f for f in resources(api, "AWS::Lambda::Function").values() if "ReservedConcurrentExecutions" in f["Properties"]
    ]
    assert len(fns) == 1
    value = fns[0]["Properties"]["ReservedConcurrentExecutions"]
    assert value["Fn::If"][0] in api["Conditions"] and value["Fn::If"][2] == {"Ref": "ApiReservedConcurrency"}


def test_job_channels_and_outputs_expire_and_buckets_are_retained(templates):
    storage = templates["Storage"]
    buckets = resources(storage, "AWS::S3::Bucket")
    data = [b for b in buckets.values() if "BucketName" in b["Properties"]]
    assert len(data) == 2
    for bucket in data:
        assert bucket["DeletionPolicy"] == "Retain" and bucket["UpdateReplacePolicy"] == "Retain"
        rules = {r.get("Prefix"): r for r in bucket["Properties"]["LifecycleConfiguration"]["Rules"]}
        assert rules["channels/"]["ExpirationInDays"] == 7
        for prefix in ("jobs/", "trainings/", "artifacts/compiles/"):
            assert rules[prefix]["ExpirationInDays"] == 30


def test_bucket_suffix_renames_the_retained_buckets_for_a_redeploy():
    from aws_cdk import App

    from infra.stacks.storage import StorageStack, clean_suffix

    app = App(context={"tlm:bucket-suffix": "b2"})
    stack = StorageStack(app, "TlmStorage")
    assert stack.data_environment()["TLM_BLOBS_BUCKET"].endswith("-b2")
    with pytest.raises(ValueError, match="bucket-suffix"):
        clean_suffix("Bad_Suffix")


def test_cli_app_client_allows_user_password_sign_in_and_the_api_resolves_emails(templates):
    api = templates["Api"]
    (client,) = resources(api, "AWS::Cognito::UserPoolClient").values()
    flows = set(client["Properties"]["ExplicitAuthFlows"])
    assert {"ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"} <= flows
    assert client["Properties"].get("GenerateSecret") in (None, False)
    fn = next(
        f
        for f in resources(api, "AWS::Lambda::Function").values()
        if "TLM_USER_POOL_ID" in f["Properties"].get("Environment", {}).get("Variables", {})
    )
    assert fn
    statements = [
        s for p in resources(api, "AWS::IAM::Policy").values() for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]
    cognito = [s for s in statements if "cognito-idp" in str(s["Action"])]
    assert len(cognito) == 1 and cognito[0]["Action"] == "cognito-idp:ListUsers"
    assert "Fn::GetAtt" in cognito[0]["Resource"]  # the pool's ARN, not "*"
