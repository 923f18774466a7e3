"""``make deploy``: check the account, deploy every stack with its parameters, create the first user.

1. AWS credentials and a region must resolve (``sts:GetCallerIdentity``, one attempt, short
   timeouts): without them this stops at once, naming what to set. Nothing else runs first.
2. The account/region must be CDK-bootstrapped (the ``CDKToolkit`` stack): else it prints the
   ``cdk bootstrap aws://<account>/<region>`` command to run (or runs it with ``--bootstrap``).
3. Retained buckets: the data buckets are kept on teardown; when their names are taken but the
   storage stack is gone (a redeploy after ``cdk destroy``), a fresh ``tlm:bucket-suffix`` is chosen
   so the new buckets do not collide (the old ones keep their data until you delete them).
4. ``cdk deploy --all`` with the parameters below; CDK builds the Lambda assets and builds and
   pushes any container image asset (the jobs image; Docker must run), unless a prebuilt image
   is passed with ``PARAMS``.
5. The first user (``ADMIN_EMAIL``) is created in the user pool from the stack outputs; Cognito
   e-mails the temporary password. Then ``tlm login`` is printed with the values to use.

Settings (environment, or ``make deploy VAR=value``): ADMIN_EMAIL (required), ALARM_EMAIL
(default ADMIN_EMAIL), BUDGET_USD (default 0 = no budget), API_CONCURRENCY (default 0 = not
reserved), PREFIX (default Tlm), PARAMS (extra ``Stack:Name=value`` words for cdk --parameters).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
OUTPUTS = REPO / "cdk-outputs.json"


class DeployError(SystemExit):
    def __init__(self, message: str) -> None:
        print(f"make deploy: {message}", file=sys.stderr)
        super().__init__(2)


def session() -> Any:
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError

    s = boto3.session.Session(region_name=os.environ.get("AWS_REGION") or None)
    if s.region_name is None:
        raise DeployError("no AWS region: set AWS_REGION (or a region in your AWS profile)")
    if s.get_credentials() is None:
        raise DeployError(
            "no AWS credentials: set AWS_PROFILE (aws configure / aws sso login) or AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY, then run make deploy again"
        )
    quick = Config(connect_timeout=5, read_timeout=10, retries={"max_attempts": 1, "mode": "standard"})
    try:
        ident = s.client("sts", config=quick).get_caller_identity()
    except (NoCredentialsError, NoRegionError) as exc:
        raise DeployError(f"AWS credentials do not resolve: {exc}") from exc
    except (ClientError, BotoCoreError) as exc:
        raise DeployError(f"AWS rejected the credentials or is unreachable: {exc}") from exc
    print(f"account {ident['Account']} region {s.region_name} as {ident['Arn']}")
    s.account_id = ident["Account"]
    return s


def check_bootstrap(s: Any, *, bootstrap: bool) -> None:
    from botocore.exceptions import ClientError

    target = f"aws://{s.account_id}/{s.region_name}"
    try:
        stack = s.client("cloudformation").describe_stacks(StackName="CDKToolkit")["Stacks"][0]
        if stack["StackStatus"].endswith("_COMPLETE") and "ROLLBACK" not in stack["StackStatus"]:
            return
        problem = f"the CDKToolkit stack is {stack['StackStatus']}"
    except ClientError:
        problem = "this account/region is not CDK-bootstrapped"
    if not bootstrap:
        raise DeployError(f"{problem}: run  ./node_modules/.bin/cdk bootstrap {target}  (or make deploy BOOTSTRAP=1)")
    _run([str(REPO / "node_modules" / ".bin" / "cdk"), "bootstrap", target])


def bucket_suffix(s: Any, prefix: str, given: str | None) -> str:
    """The given suffix, else '' unless the default bucket names are taken without our stack."""
    if given is not None:
        return given
    from botocore.exceptions import ClientError

    try:
        s.client("cloudformation").describe_stacks(StackName=f"{prefix}Storage")
        return ""  # our stack owns the buckets: an update keeps them
    except ClientError:
        pass
    s3 = s.client("s3")
    taken = []
    for kind in ("blobs", "artifacts"):
        name = f"{prefix.lower()}-{kind}-{s.account_id}-{s.region_name}"
        try:
            s3.head_bucket(Bucket=name)
            taken.append(name)
        except ClientError:
            continue
    if not taken:
        return ""
    suffix = secrets.token_hex(3)
    print(f"retained buckets {', '.join(taken)} exist from an earlier deployment: new buckets get suffix -{suffix}")
    return suffix


def deploy_command(env: dict[str, str], suffix: str) -> list[str]:
    prefix = env.get("PREFIX") or "Tlm"
    admin = env.get("ADMIN_EMAIL", "")
    params = {
        f"{prefix}Observability:AlarmEmail": env.get("ALARM_EMAIL") or admin,
        f"{prefix}Observability:MonthlyBudgetUsd": env.get("BUDGET_USD") or "0",
        f"{prefix}Api:ApiReservedConcurrency": env.get("API_CONCURRENCY") or "0",
    }
    cmd = [str(REPO / "node_modules" / ".bin" / "cdk"), "deploy", "--all", "--require-approval", "never"]
    cmd += ["--outputs-file", str(OUTPUTS), "--context", f"tlm:prefix={prefix}"]
    if suffix:
        cmd += ["--context", f"tlm:bucket-suffix={suffix}"]
    for name, value in params.items():
        cmd += ["--parameters", f"{name}={value}"]
    for extra in shlex.split(env.get("PARAMS", "")):
        cmd += ["--parameters", extra]
    return cmd


def create_first_user(idp: Any, outputs: dict[str, dict[str, str]], email: str, prefix: str = "Tlm") -> str:
    """Create ``email`` in the deployed pool (idempotent); returns the tlm login command."""
    api = outputs.get(f"{prefix}Api") or {}
    pool, client = api.get("UserPoolId"), api.get("UserPoolClientId")
    if not pool or not client:
        raise DeployError(f"the {prefix}Api outputs lack UserPoolId/UserPoolClientId (see {OUTPUTS})")
    try:
        idp.admin_create_user(
            UserPoolId=pool,
            Username=email,
            UserAttributes=[{"Name": "email", "Value": email}, {"Name": "email_verified", "Value": "true"}],
            DesiredDeliveryMediums=["EMAIL"],
        )
        print(f"created {email}: Cognito e-mails a temporary password")
    except idp.exceptions.UsernameExistsException:
        print(f"{email} exists already")
    url = next((v for k, v in api.items() if k.startswith("ApiUrl") or k.startswith("RestApiEndpoint")), "")
    return f"TLM_ENDPOINT={url.rstrip('/')} tlm login {email} --client-id {client} --region {idp.meta.region_name}"


def _run(cmd: list[str]) -> None:
    print("+", " ".join(shlex.quote(c) for c in cmd), flush=True)
    subprocess.run(cmd, cwd=REPO, check=True)  # noqa: S603 - our own CDK CLI, arguments as a list


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dry-run", action="store_true", help="check and print the cdk command, deploy nothing")
    args = ap.parse_args(argv)
    env = dict(os.environ)
    email = env.get("ADMIN_EMAIL", "")
    if "@" not in email:
        raise DeployError(
            "set ADMIN_EMAIL (the first user, who also gets the alarms): make deploy ADMIN_EMAIL=you@example.com"
        )
    s = session()
    check_bootstrap(s, bootstrap=env.get("BOOTSTRAP") == "1")
    prefix = env.get("PREFIX") or "Tlm"
    suffix = bucket_suffix(s, prefix, env.get("BUCKET_SUFFIX"))
    _require_web_bundle()
    if not _has_docker_cli():
        print("warning: no docker CLI: CDK needs Docker to build and push container image assets (the jobs image)")
    cmd = deploy_command(env, suffix)
    if args.dry_run:
        print("would run:", " ".join(shlex.quote(c) for c in cmd))
        return
    _run(cmd)
    outputs = json.loads(OUTPUTS.read_text())
    print("sign in with:\n  " + create_first_user(s.client("cognito-idp"), outputs, email, prefix))
    site = outputs.get(f"{prefix}Web", {}).get("SiteUrl")
    if site:
        print(f"the browser UI: {site}/ui/ (Sign in with Cognito)")


def _require_web_bundle() -> None:
    """The web stack deploys web/dist: say so before CDK starts (it would fail in synth)."""
    from infra.web_bundle import MissingBundle, bundle_dir

    try:
        bundle_dir()
    except MissingBundle as e:
        raise DeployError(str(e)) from None


def _has_docker_cli() -> bool:
    from shutil import which

    return which("docker") is not None


if __name__ == "__main__":
    main()
