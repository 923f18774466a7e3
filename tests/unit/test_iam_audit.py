"""The IAM evaluation the audit test relies on (tests/iam_audit.py): it must deny what IAM denies."""

from __future__ import annotations

import pytest

from tests.iam_audit import Cloud, Request, allowed, denials, requests_for, unused_grants

pytestmark = pytest.mark.unit

BUCKET = "arn:aws:s3:::tlm-blobs-123456789012-us-east-1"
ROLE = "arn:aws:iam::123456789012:role/sm"
POLICY = [
    {"Effect": "Allow", "Action": "s3:GetObject", "Resource": [f"{BUCKET}/channels/*", f"{BUCKET}/sha256/*"]},
    {"Effect": "Allow", "Action": ["s3:Put*"], "Resource": f"{BUCKET}/trainings/*"},
    {
        "Effect": "Allow",
        "Action": "s3:ListBucket",
        "Resource": BUCKET,
        "Condition": {"StringLike": {"s3:prefix": ["channels/*"]}},
    },
    {
        "Effect": "Allow",
        "Action": "iam:PassRole",
        "Resource": ROLE,
        "Condition": {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
    },
    {"Effect": "Deny", "Action": "s3:*", "Resource": f"{BUCKET}/channels/secret/*"},
]


def req(action: str, resource: str, **ctx: str) -> Request:
    return Request(action, resource, tuple(sorted(ctx.items())))


def test_actions_resources_and_wildcards():
    assert allowed(POLICY, req("s3:GetObject", f"{BUCKET}/channels/r1/train.jsonl"))
    assert allowed(POLICY, req("S3:getobject", f"{BUCKET}/sha256/ab"))  # actions are case-insensitive
    assert not allowed(POLICY, req("s3:GetObject", f"{BUCKET}/trainings/t1/model.tar.gz"))
    assert allowed(POLICY, req("s3:PutObject", f"{BUCKET}/trainings/t1/j/output/model.tar.gz"))
    assert not allowed(POLICY, req("s3:PutObject", f"{BUCKET}/channels/x"))
    assert not allowed(POLICY, req("s3:GetObject", f"{BUCKET}/channels/secret/key"))  # explicit deny wins


def test_conditions_must_hold_and_a_missing_key_fails_them():
    assert allowed(POLICY, req("s3:ListBucket", BUCKET, **{"s3:prefix": "channels/r1/"}))
    assert not allowed(POLICY, req("s3:ListBucket", BUCKET, **{"s3:prefix": "trainings/"}))
    assert not allowed(POLICY, req("s3:ListBucket", BUCKET))
    assert allowed(POLICY, req("iam:PassRole", ROLE, **{"iam:PassedToService": "sagemaker.amazonaws.com"}))
    assert not allowed(POLICY, req("iam:PassRole", ROLE, **{"iam:PassedToService": "lambda.amazonaws.com"}))


def test_calls_become_the_requests_iam_checks():
    copy = requests_for(
        "s3", "CopyObject", {"Bucket": "b", "Key": "channels/x", "CopySource": {"Bucket": "b", "Key": "sha256/y"}}
    )
    assert [(r.action, r.resource) for r in copy] == [
        ("s3:GetObject", "arn:aws:s3:::b/sha256/y"),
        ("s3:PutObject", "arn:aws:s3:::b/channels/x"),
    ]
    create = requests_for("sagemaker", "CreateTrainingJob", {"TrainingJobName": "Tlm-Train-1", "RoleArn": ROLE})
    assert [r.action for r in create] == ["sagemaker:CreateTrainingJob", "iam:PassRole"]
    assert create[0].resource.endswith(":training-job/tlm-train-1")  # SageMaker ARNs are lower case
    tx = requests_for(
        "dynamodb",
        "TransactWriteItems",
        {"TransactItems": [{"Put": {"TableName": "ev"}}, {"ConditionCheck": {"TableName": "ev"}}]},
    )
    assert [r.action for r in tx] == ["dynamodb:PutItem", "dynamodb:ConditionCheckItem"]
    with pytest.raises(AssertionError, match="does not know"):
        requests_for("kms", "Decrypt", {})


def test_unused_grants_name_actions_and_resources_no_request_needed():
    used = [
        req("s3:GetObject", f"{BUCKET}/channels/r1/a"),
        req("iam:PassRole", ROLE, **{"iam:PassedToService": "sagemaker.amazonaws.com"}),
    ]
    unused = unused_grants(POLICY, used)
    assert ("<any action of its statement>", f"{BUCKET}/sha256/*") in unused
    assert ("s3:Put*", "<any resource of its statement>") in unused
    assert ("s3:ListBucket", "<any resource of its statement>") in unused
    assert not [u for u in unused if "PassRole" in u[0] or u[1] == ROLE]
    assert denials(POLICY, used) == []


def test_template_values_resolve_to_the_deployed_names():
    storage = {
        "Resources": {
            "Events": {"Type": "AWS::DynamoDB::Table", "Properties": {}},
            "Blobs": {
                "Type": "AWS::S3::Bucket",
                "Properties": {"BucketName": {"Fn::Join": ["", ["tlm-blobs-", {"Ref": "AWS::AccountId"}]]}},
            },
        },
        "Outputs": {"Ev": {"Value": {"Ref": "Events"}, "Export": {"Name": "TlmStorage:Ev"}}},
    }
    other = {
        "Parameters": {"Image": {"Type": "String", "Default": ""}},
        "Conditions": {"Prebuilt": {"Fn::Not": [{"Fn::Equals": [{"Ref": "Image"}, ""]}]}},
        "Resources": {"R": {"Type": "AWS::IAM::Role", "Properties": {}}},
    }
    cloud = Cloud({"Storage": storage, "Other": other})
    assert cloud.resolve("TlmOther", {"Fn::ImportValue": "TlmStorage:Ev"}) == "TlmStorage-Events"
    assert cloud.resolve("TlmStorage", {"Fn::GetAtt": ["Blobs", "Arn"]}) == "arn:aws:s3:::tlm-blobs-123456789012"
    assert cloud.resolve("TlmOther", {"Fn::If": ["Prebuilt", "a", {"Fn::Sub": "${AWS::Region}-b"}]}) == "us-east-1-b"
    assert cloud.resolve("TlmOther", {"Fn::GetAtt": ["R", "Arn"]}) == "arn:aws:iam::123456789012:role/TlmOther-R"
