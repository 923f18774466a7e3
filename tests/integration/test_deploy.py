"""``make deploy`` cannot reach AWS here: it must stop at once, with a clear message, without
credentials; its checks (bootstrap, retained bucket names) and the first user run on moto."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from infra import deploy

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]


def _no_aws_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_CONFIG_FILE=str(tmp_path / "none"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"),
        AWS_EC2_METADATA_DISABLED="true",
        AWS_REGION="us-east-1",
        **extra,
    )
    return env


def test_make_deploy_without_credentials_fails_fast_and_says_what_to_set(tmp_path: Path) -> None:
    # "fast" is what it did, not how long it took on a loaded machine: it stopped at the credentials
    # check, before any AWS call (an STS attempt would say "do not resolve" / "unreachable"); the
    # timeout only bounds a hang
    proc = subprocess.run(  # noqa: S603
        ["make", "-s", "deploy"],  # noqa: S607
        cwd=REPO, env=_no_aws_env(tmp_path, ADMIN_EMAIL="admin@example.com"), capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "no AWS credentials" in proc.stderr and "AWS_PROFILE" in proc.stderr
    assert "do not resolve" not in proc.stderr and "unreachable" not in proc.stderr


def test_deploy_needs_the_first_users_email(tmp_path: Path) -> None:
    proc = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "infra.deploy"], cwd=REPO, env=_no_aws_env(tmp_path), capture_output=True, text=True
    )
    assert proc.returncode == 2 and "ADMIN_EMAIL" in proc.stderr


def test_checks_bootstrap_picks_a_bucket_suffix_next_to_retained_buckets_and_creates_the_first_user() -> None:
    with mock_aws():
        s = deploy.session()
        # Given an account that is not bootstrapped: the bootstrap command is named
        with pytest.raises(SystemExit) as e:
            deploy.check_bootstrap(s, bootstrap=False)
        assert e.value.code == 2
        cfn = boto3.client("cloudformation", region_name="us-east-1")
        cfn.create_stack(
            StackName="CDKToolkit",
            TemplateBody='{"Resources": {"Q": {"Type": "AWS::SQS::Queue"}}}',
        )
        deploy.check_bootstrap(s, bootstrap=False)  # now it passes
        # Given buckets retained from a torn-down deployment: new ones get a suffix, an update none
        assert deploy.bucket_suffix(s, "Tlm", None) == ""
        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket=f"tlm-blobs-{s.account_id}-us-east-1")
        suffix = deploy.bucket_suffix(s, "Tlm", None)
        assert len(suffix) == 6
        assert deploy.bucket_suffix(s, "Tlm", "keep") == "keep"
        cmd = deploy.deploy_command({"ADMIN_EMAIL": "a@example.com", "BUDGET_USD": "50"}, suffix)
        assert cmd[1:3] == ["deploy", "--all"] and f"tlm:bucket-suffix={suffix}" in cmd
        assert "TlmObservability:AlarmEmail=a@example.com" in cmd and "TlmObservability:MonthlyBudgetUsd=50" in cmd
        # When the stacks are up, the first user is created in the output pool (idempotently)
        idp = boto3.client("cognito-idp", region_name="us-east-1")
        pool = idp.create_user_pool(PoolName="p", UsernameAttributes=["email"])["UserPool"]["Id"]
        client = idp.create_user_pool_client(UserPoolId=pool, ClientName="cli")["UserPoolClient"]["ClientId"]
        outputs = {"TlmApi": {"UserPoolId": pool, "UserPoolClientId": client, "ApiUrl": "https://x/v1/"}}
        login = deploy.create_first_user(idp, outputs, "a@example.com")
        assert login == f"TLM_ENDPOINT=https://x/v1 tlm login a@example.com --client-id {client} --region us-east-1"
        assert deploy.create_first_user(idp, outputs, "a@example.com") == login
        assert idp.admin_get_user(UserPoolId=pool, Username="a@example.com")["UserStatus"] == "FORCE_CHANGE_PASSWORD"
