"""Sign-in a user can use, on moto's cognito-idp: an admin creates the user (tlm admin
create-user), the user's first ``tlm login`` sets a new password and enrols TOTP (the pool
requires MFA), tokens are cached 0600 and refreshed with the refresh token; members added by
e-mail resolve to the Cognito ``sub``. Locally the same commands use users.json + the token book."""

from __future__ import annotations

import base64
import json
import stat
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from cryptography.hazmat.primitives.hashes import SHA1
from cryptography.hazmat.primitives.twofactor.totp import TOTP
from moto import mock_aws
from typer.testing import CliRunner

from domain.errors import NotFound
from runtime.users import CognitoUsers, LocalUsers
from tlm import auth
from tlm.cli.main import app

pytestmark = pytest.mark.integration

EMAIL = "alice@example.com"
ENDPOINT = "https://api.example.com/prod"


def totp_now(secret: str) -> str:
    key = base64.b32decode(secret + "=" * (-len(secret) % 8), casefold=True)
    return TOTP(key, 6, SHA1(), 30, enforce_key_length=False).generate(int(time.time())).decode()


@pytest.fixture
def pool(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[dict[str, Any]]:
    monkeypatch.setenv("MOTO_COGNITO_IDP_USER_POOL_ENABLE_TOTP", "true")  # moto checks the codes
    monkeypatch.setenv("TLM_CREDENTIALS_FILE", str(tmp_path / "cfg" / "credentials.json"))
    with mock_aws():
        idp = boto3.client("cognito-idp", region_name="us-east-1")
        pool_id = idp.create_user_pool(PoolName="tlm", UsernameAttributes=["email"], MfaConfiguration="ON")["UserPool"][
            "Id"
        ]
        idp.set_user_pool_mfa_config(
            UserPoolId=pool_id, SoftwareTokenMfaConfiguration={"Enabled": True}, MfaConfiguration="ON"
        )
        client_id = idp.create_user_pool_client(
            UserPoolId=pool_id,
            ClientName="cli",
            ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
        )["UserPoolClient"]["ClientId"]
        yield {"idp": idp, "pool_id": pool_id, "client_id": client_id}


def test_admin_creates_a_user_who_signs_in_enrols_mfa_and_stays_signed_in(pool: dict[str, Any]) -> None:
    idp = pool["idp"]
    # Given an admin created the user with a temporary password
    res = CliRunner().invoke(
        app,
        ["admin", "create-user", EMAIL, "--user-pool-id", pool["pool_id"], "--temporary-password", "Temp-pass-123!"],
    )
    assert res.exit_code == 0, res.output
    sub = next(
        a["Value"] for a in idp.admin_get_user(UserPoolId=pool["pool_id"], Username=EMAIL)["UserAttributes"]
        if a["Name"] == "sub"
    )  # fmt: skip
    assert f"user_id={sub}" in res.output
    # When the user signs in the first time: new password, then TOTP enrolment with a real code
    shown: list[str] = []
    entry = auth.cognito_login(
        client_id=pool["client_id"], region="us-east-1", username=EMAIL, password="Temp-pass-123!",
        new_password=lambda: "Own-pass-456!", show_secret=lambda secret, uri: shown.append(secret),
        mfa_code=lambda: totp_now(shown[-1]), idp=idp,
    )  # fmt: skip
    # Then the cache holds ID/refresh tokens, readable by the user only
    path = auth.save_credentials(ENDPOINT, entry)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert auth.cached_token(ENDPOINT, idp=idp) == entry["id_token"]
    claims = json.loads(base64.urlsafe_b64decode(str(entry["id_token"]).split(".")[1] + "=="))
    assert claims["sub"] == sub  # what API Gateway's authorizer passes to the API as the user id
    # And an expired ID token is refreshed with the refresh token (and the cache rewritten)
    later = float(entry["expires_at"]) + 10
    fresh = auth.cached_token(ENDPOINT, idp=idp, now=later)
    assert fresh and fresh != entry["id_token"]
    assert json.loads(path.read_text())[ENDPOINT]["id_token"] == fresh
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    # And the next sign-in asks for the authenticator code; a wrong one fails
    again = auth.cognito_login(
        client_id=pool["client_id"], region="us-east-1", username=EMAIL, password="Own-pass-456!",
        mfa_code=lambda: totp_now(shown[-1]), idp=idp,
    )  # fmt: skip
    assert again["refresh_token"]
    with pytest.raises(auth.LoginFailed, match="CodeMismatch"):
        auth.cognito_login(
            client_id=pool["client_id"], region="us-east-1", username=EMAIL, password="Own-pass-456!",
            mfa_code=lambda: "000000", idp=idp,
        )  # fmt: skip
    with pytest.raises(auth.LoginFailed, match="NotAuthorized"):
        auth.cognito_login(client_id=pool["client_id"], region="us-east-1", username=EMAIL, password="nope", idp=idp)
    # And members added by e-mail resolve to the sub
    users = CognitoUsers(idp, pool["pool_id"])
    assert users.resolve(EMAIL.upper()) == sub
    assert users.resolve(sub) == sub
    with pytest.raises(NotFound) as e:
        users.resolve("bob@example.com")
    assert e.value.field == "user_id"


def test_a_revoked_refresh_token_asks_for_a_new_login(pool: dict[str, Any]) -> None:
    auth.save_credentials(
        ENDPOINT,
        {"kind": "cognito", "client_id": pool["client_id"], "region": "us-east-1", "username": EMAIL,
         "id_token": "x", "access_token": "y", "refresh_token": "revoked", "expires_at": 0},
    )  # fmt: skip
    with pytest.raises(auth.LoginFailed, match="tlm login"):
        auth.cached_token(ENDPOINT, idp=pool["idp"])


def test_locally_create_user_gives_an_id_and_a_token_and_members_resolve_by_email(tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["admin", "create-user", EMAIL, "--data-dir", str(tmp_path)])
    assert res.exit_code == 0, res.output
    users = LocalUsers(tmp_path)
    user_id = users.resolve(EMAIL)
    token = res.output.split("--token ")[1].split()[0]
    assert auth.TokenBook(tmp_path).user_of(token) == user_id
    assert stat.S_IMODE((tmp_path / "users.json").stat().st_mode) == 0o600
    assert users.add(EMAIL) == user_id  # idempotent
    with pytest.raises(NotFound):
        users.resolve("nobody@example.com")
