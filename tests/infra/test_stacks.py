"""Template assertions on the one synthesized assembly (see conftest.py)."""

from __future__ import annotations

import json

import pytest
from aws_cdk.assertions import Match, Template

from infra.stacks import projector as projector_stack
from runtime.adapters.dynamodb import keys
from tests.infra.conftest import resources

pytestmark = pytest.mark.infra

DATA_SERVICES = ("dynamodb:", "s3:")


def _tables(storage: dict) -> dict[str, dict]:
    return {
        r["Properties"]["KeySchema"][0]["AttributeName"]: r["Properties"]
        for r in resources(storage, "AWS::DynamoDB::Table").values()
    }


def test_table_key_schemas_equal_the_runtime_constants(templates):
    tables = _tables(templates["Storage"])
    events = tables[keys.EVENTS_PK]
    assert events["KeySchema"] == [
        {"AttributeName": keys.EVENTS_PK, "KeyType": "HASH"},
        {"AttributeName": keys.EVENTS_SK, "KeyType": "RANGE"},
    ]
    assert {"AttributeName": keys.EVENTS_SK, "AttributeType": "N"} in events["AttributeDefinitions"]
    assert tables[keys.VIEWS_PK]["KeySchema"][1] == {"AttributeName": keys.VIEWS_SK, "KeyType": "RANGE"}
    idem = tables[keys.IDEMPOTENCY_TABLE_PK]
    assert idem["TimeToLiveSpecification"] == {"AttributeName": keys.IDEMPOTENCY_TABLE_TTL, "Enabled": True}
    for t in tables.values():
        assert t["BillingMode"] == "PAY_PER_REQUEST"
        assert t["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True


def test_events_table_streams_new_images(templates):
    Template.from_json(templates["Storage"]).has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "KeySchema": Match.array_with([{"AttributeName": keys.EVENTS_PK, "KeyType": "HASH"}]),
            "StreamSpecification": {"StreamViewType": "NEW_IMAGE"},
        },
    )


@pytest.mark.parametrize("consumer", ["Projector", "Reactions"])
def test_projector_event_source_mapping(templates, consumer):
    t = templates["Projector"]
    (esm,) = [m for m in resources(t, "AWS::Lambda::EventSourceMapping").values()
              if m["Properties"]["FunctionName"]["Ref"].startswith(consumer)]  # fmt: skip
    p = esm["Properties"]
    assert p["BisectBatchOnFunctionError"] is True
    assert 0 < p["MaximumRetryAttempts"] <= 10
    assert p["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert p["StartingPosition"] == "TRIM_HORIZON"
    (queue_id,) = resources(t, "AWS::SQS::Queue")
    assert p["DestinationConfig"]["OnFailure"]["Destination"] == {"Fn::GetAtt": [queue_id, "Arn"]}
    (pattern,) = [json.loads(f["Pattern"]) for f in p["FilterCriteria"]["Filters"]]
    assert pattern == {
        "eventName": ["INSERT"],
        "dynamodb": {"NewImage": {keys.KIND: {"S": [keys.KIND_EVENT]}}},
    }
    assert p["MaximumRetryAttempts"] == projector_stack.RETRY_ATTEMPTS


def test_dead_letter_queue_is_encrypted_and_tls_only(templates):
    t = Template.from_json(templates["Projector"])
    t.has_resource_properties("AWS::SQS::Queue", {"SqsManagedSseEnabled": True})
    t.has_resource_properties(
        "AWS::SQS::QueuePolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [Match.object_like({"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}})]
                )
            }
        },
    )


def _state_machines(templates) -> dict[str, dict]:
    return resources(templates["Workflows"], "AWS::StepFunctions::StateMachine")


def _definition(sm: dict) -> dict:
    body = sm["Properties"]["DefinitionString"]
    text = body if isinstance(body, str) else "".join(p if isinstance(p, str) else "0" for p in body["Fn::Join"][1])
    return json.loads(text)


def test_training_task_waits_for_the_job(templates):
    machines = _state_machines(templates)
    assert len(machines) >= 2  # compile and train
    for sm in machines.values():
        assert sm["Properties"]["StateMachineType"] == "STANDARD"
        assert sm["Properties"]["TracingConfiguration"] == {"Enabled": True}
    train = [sm for lid, sm in machines.items() if lid.startswith("Train")]
    assert len(train) == 1, "no train state machine"
    states = _definition(train[0])["States"]
    jobs = [s for s in states.values() if "createTrainingJob" in str(s.get("Resource", ""))]
    assert jobs and all(s["Resource"] == "arn:aws:states:::sagemaker:createTrainingJob.sync" for s in jobs)
    # the instance type is a stack parameter, restricted to GPU types
    params = templates["Workflows"]["Parameters"]
    assert "ml.p3.2xlarge" in params["TrainingInstanceType"]["AllowedValues"]
    assert all(t.startswith("ml.g") or t.startswith("ml.p") for t in params["TrainingInstanceType"]["AllowedValues"])
    subs = train[0]["Properties"]["DefinitionSubstitutions"]
    assert subs["TrainingInstanceType"] == {"Ref": "TrainingInstanceType"}


def _statements(template: dict):
    for pid, pol in resources(template, "AWS::IAM::Policy").items():
        for st in pol["Properties"]["PolicyDocument"]["Statement"]:
            yield pid, st
    for rid, role in resources(template, "AWS::IAM::Role").items():
        for pol in role["Properties"].get("Policies", []):
            for st in pol["PolicyDocument"]["Statement"]:
                yield rid, st


# dynamodb:ListStreams has no resource-level permissions (CDK's grantStreamRead); it lists stream ARNs only
NO_RESOURCE_LEVEL = {"dynamodb:ListStreams"}


def test_no_wildcard_action_or_resource_on_data(templates):
    checked = 0
    for name, template in templates.items():
        for pid, st in _statements(template):
            if st["Effect"] != "Allow":
                continue
            actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
            res = st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]]
            assert "*" not in actions, (name, pid, st)
            data = [a for a in actions if a.startswith(DATA_SERVICES)]
            assert not [a for a in data if a in ("dynamodb:*", "s3:*")], (name, pid, st)
            if set(data) - NO_RESOURCE_LEVEL:
                assert "*" not in res, (name, pid, st)
                checked += 1
    assert checked > 10


def test_passrole_is_limited_to_the_sagemaker_role(templates):
    passes = [st for _, st in _statements(templates["Workflows"]) if st["Action"] == "iam:PassRole"]
    assert passes
    for st in passes:
        assert st["Resource"] != "*" and "Fn::GetAtt" in st["Resource"]
        assert st["Condition"] == {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}


def test_buckets_encrypted_tls_only_and_private(templates):
    storage = templates["Storage"]
    buckets = resources(storage, "AWS::S3::Bucket")
    assert len(buckets) == 3
    for bid, b in buckets.items():
        p = b["Properties"]
        assert p["BucketEncryption"]["ServerSideEncryptionConfiguration"], bid
        assert p["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }, bid
    policies = resources(storage, "AWS::S3::BucketPolicy").values()
    tls_only = {
        p["Properties"]["Bucket"]["Ref"]
        for p in policies
        for st in p["Properties"]["PolicyDocument"]["Statement"]
        if st["Effect"] == "Deny" and st.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}
    }
    assert tls_only == set(buckets)
    versioned = [
        b for b in buckets.values() if b["Properties"].get("VersioningConfiguration", {}).get("Status") == "Enabled"
    ]
    assert len(versioned) == 1  # artifacts
    logged = [b for b in buckets.values() if "LoggingConfiguration" in b["Properties"]]
    assert len(logged) == 2  # blobs and artifacts log to the access-log bucket


def test_functions_use_the_layer_tracing_and_tlm_settings(templates):
    for name in ("Api", "Projector", "Uploads", "Workflows"):
        for fid, fn in resources(templates[name], "AWS::Lambda::Function").items():
            p = fn["Properties"]
            if "functions." not in p.get("Handler", ""):
                continue  # CDK's own custom-resource handlers
            assert p["Runtime"].startswith("python3.1"), fid
            assert p["TracingConfig"] == {"Mode": "Active"}, fid
            env = p["Environment"]["Variables"]
            assert env["TLM_BACKEND"] == "aws" and "TLM_EVENTS_TABLE" in env and "TLM_BLOBS_BUCKET" in env
            assert env["POWERTOOLS_SERVICE_NAME"].startswith("tlm-") and env["POWERTOOLS_METRICS_NAMESPACE"]
            sampler = env.get("TLM_STEP") in ("study_ask", "study_watch_trial")  # + optuna's own layer
            assert len(p["Layers"]) == (2 if sampler else 1), fid


def test_api_has_cognito_authorizer_throttling_access_logs_and_tracing(templates):
    t = Template.from_json(templates["Api"])
    t.has_resource_properties("AWS::ApiGateway::Authorizer", {"Type": "COGNITO_USER_POOLS"})
    t.has_resource_properties(
        "AWS::ApiGateway::Method", {"AuthorizationType": "COGNITO_USER_POOLS", "HttpMethod": "ANY"}
    )
    t.has_resource_properties(
        "AWS::ApiGateway::Stage",
        {
            "TracingEnabled": True,
            "AccessLogSetting": Match.object_like({"DestinationArn": Match.any_value()}),
            "MethodSettings": Match.array_with(
                [
                    Match.object_like(
                        {"ThrottlingRateLimit": Match.any_value(), "ThrottlingBurstLimit": Match.any_value()}
                    )
                ]
            ),
        },
    )


def test_upload_trigger_listens_to_the_staging_prefix(templates):
    (notif,) = [r for r in templates["Uploads"]["Resources"].values() if r["Type"] == "Custom::S3BucketNotifications"]
    (cfg,) = notif["Properties"]["NotificationConfiguration"]["LambdaFunctionConfigurations"]
    assert cfg["Events"] == ["s3:ObjectCreated:*"]
    # the prefix is where the blob stores really stage joined uploads (one constant in runtime)
    from runtime.adapters.fs.blob_rules import staging_key

    (rule,) = cfg["Filter"]["Key"]["FilterRules"]
    assert rule["Name"] == "prefix" and rule["Value"] == keys.STAGING_PREFIX
    assert staging_key("0" * 32).startswith(rule["Value"])


def test_upload_trigger_reads_the_uploads_view_and_keeps_failed_events(templates):
    uploads = templates["Uploads"]
    (config,) = resources(uploads, "AWS::Lambda::EventInvokeConfig").values()
    assert config["Properties"]["MaximumRetryAttempts"] == 2
    assert "OnFailure" in config["Properties"]["DestinationConfig"]
    statements = [
        st
        for pol in resources(uploads, "AWS::IAM::Policy").values()
        for st in pol["Properties"]["PolicyDocument"]["Statement"]
    ]
    reads = [
        st
        for st in statements
        if "dynamodb:GetItem" in (st["Action"] if isinstance(st["Action"], list) else [st["Action"]])
    ]
    assert any("Views" in json.dumps(st["Resource"]) or "views" in json.dumps(st["Resource"]).lower() for st in reads)


def test_alarms_on_dlq_depth_and_failed_executions(templates):
    alarms = resources(templates["Observability"], "AWS::CloudWatch::Alarm").values()
    by_metric = {}
    for a in alarms:
        by_metric.setdefault(a["Properties"]["MetricName"], []).append(a["Properties"])
    queues = by_metric["ApproximateNumberOfMessagesVisible"]  # projector DLQ + failed upload verifications
    assert len(queues) == 2
    assert all(q["Threshold"] == 0 and q["ComparisonOperator"] == "GreaterThanThreshold" for q in queues)
    assert len(by_metric["ExecutionsFailed"]) == len(_state_machines(templates))
    assert all(a["Properties"]["AlarmActions"] for a in alarms)


def test_cdk_nag_runs_and_the_app_is_clean(assembly):
    # The synth itself fails on any unacknowledged AwsSolutions finding; the report says so.
    report = json.loads((assembly.outdir / "validation-report.json").read_text())
    failures = [r for r in report["pluginReports"] if r.get("conclusion") == "failure"]
    assert failures == []
    acknowledged = (assembly.outdir / "TlmApi.metadata.json").read_text()
    assert "aws:cdk:acknowledged-rules" in acknowledged  # the suppressions (with reasons) are recorded


def test_cdk_nag_catches_a_violation():
    """Canary: the same plugin wiring fails a synth with an unacknowledged finding."""
    from aws_cdk import App, Stack, Validations
    from aws_cdk import aws_s3 as s3
    from cdk_nag import AwsSolutionsChecks

    app = App()
    s3.Bucket(Stack(app, "Canary"), "Plain")
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    with pytest.raises(Exception, match="AwsSolutions-S1"):
        app.synth()


def test_each_step_function_is_a_lambda_named_by_tlm_step(templates):
    from runtime.workflows.definitions import STEP_FUNCTIONS

    fns = resources(templates["Workflows"], "AWS::Lambda::Function").values()
    steps = {
        f["Properties"]["Environment"]["Variables"]["TLM_STEP"]: f["Properties"]["Handler"]
        for f in fns
        if "TLM_STEP" in f["Properties"].get("Environment", {}).get("Variables", {})
    }
    assert set(steps) == set(STEP_FUNCTIONS)
    assert set(steps.values()) == {"functions.steps.handler.handler"}


def _api_function(templates) -> dict:
    fns = [
        fn
        for fn in resources(templates["Api"], "AWS::Lambda::Function").values()
        if fn["Properties"].get("Handler") == "functions.api.handler.handler"
    ]
    assert len(fns) == 1
    return fns[0]


def _api_statements(templates, action: str) -> list[dict]:
    out = []
    for _, st in _statements(templates["Api"]):
        actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
        if action in actions and st["Effect"] == "Allow":
            out.append(st)
    return out


def _joined(value) -> str:
    """An ARN as text: Fn::Join parts with pseudo parameters and references spelled as <...>."""
    if isinstance(value, str):
        return value
    if "Fn::Join" in value:
        return "".join(_joined(p) for p in value["Fn::Join"][1])
    if "Ref" in value:
        return f"<{value['Ref']}>"
    return json.dumps(value)


def test_state_machines_have_deterministic_names(templates):
    from runtime.adapters.stepfunctions.names import state_machine_name

    names = {sm["Properties"].get("StateMachineName") for sm in _state_machines(templates).values()}
    from runtime.workflows.definitions import WORKFLOWS

    assert names == {state_machine_name("Tlm", w) for w in WORKFLOWS}
    assert {"Tlm-compile", "Tlm-train", "Tlm-arch-test", "Tlm-demo-import"} <= names


def test_api_function_gets_the_workflow_and_job_settings(templates):
    env = _api_function(templates)["Properties"]["Environment"]["Variables"]
    assert env["TLM_STATE_MACHINE_PREFIX"] == "Tlm"
    assert env["TLM_ACCOUNT_ID"] == {"Ref": "AWS::AccountId"}
    assert env["TLM_AWS_PARTITION"] == {"Ref": "AWS::Partition"}
    # the SageMaker role and the jobs image come from the workflows stack
    assert "Fn::ImportValue" in json.dumps(env["TLM_SAGEMAKER_ROLE_ARN"])
    assert "Fn::ImportValue" in json.dumps(env["TLM_JOB_IMAGE_URI"]) or "dkr.ecr" in json.dumps(
        env["TLM_JOB_IMAGE_URI"]
    )
    # the settings the runtime reads name the same machines
    from runtime.settings import Settings

    arns = Settings(state_machine_prefix=env["TLM_STATE_MACHINE_PREFIX"], account_id="1").state_machine_arns(["train"])
    assert arns == {"train": "arn:aws:states:us-east-1:1:stateMachine:Tlm-train"}


def test_api_may_list_describe_and_stop_only_tlm_executions(templates):
    from runtime.workflows.definitions import WORKFLOWS

    # the API never starts a run (the reactions do); it lists the train machine's (the leaderboard)
    assert _api_statements(templates, "states:StartExecution") == []
    listing = _api_statements(templates, "states:ListExecutions")
    assert len(listing) == 1 and listing[0]["Action"] == "states:ListExecutions"
    assert _joined(listing[0]["Resource"]) == (
        "arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:stateMachine:Tlm-train"
    )
    read = _api_statements(templates, "states:DescribeExecution")
    assert len(read) == 1
    assert set(read[0]["Action"]) == {"states:DescribeExecution", "states:GetExecutionHistory", "states:StopExecution"}
    executions = sorted(_joined(r) for r in read[0]["Resource"])
    assert executions == sorted(
        f"arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:Tlm-{w}:*" for w in WORKFLOWS
    )
    # no states:* anywhere, no "*" resource for any states action
    for _, st in _statements(templates["Api"]):
        actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
        res = st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]]
        if any(a.startswith("states:") for a in actions):
            assert "states:*" not in actions and "*" not in res


def test_api_runs_sagemaker_jobs_with_the_sagemaker_role_only(templates):
    create = _api_statements(templates, "sagemaker:CreateTrainingJob")
    # (only the pretraining job is started by the API; processing jobs never)
    assert len(create) == 1 and _api_statements(templates, "sagemaker:CreateProcessingJob") == []
    jobs = "arn:<AWS::Partition>:sagemaker:<AWS::Region>:<AWS::AccountId>:training-job/*"
    assert _joined(create[0]["Resource"]) == jobs
    passes = _api_statements(templates, "iam:PassRole")
    assert len(passes) == 1 and "Fn::ImportValue" in json.dumps(passes[0]["Resource"])
    assert passes[0]["Condition"] == {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}
    logs = _api_statements(templates, "logs:GetLogEvents")
    resources = [r for st in logs for r in (st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]])]
    assert resources and all("/aws/sagemaker/" in _joined(r) for r in resources)
