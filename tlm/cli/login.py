"""``tlm login`` / ``tlm logout`` and ``tlm admin create-user``.

On AWS (``--client-id`` / ``TLM_COGNITO_CLIENT_ID``, the stack output ``UserPoolClientId``) login
signs in to Cognito with USER_PASSWORD_AUTH, answering the first-sign-in new password and the
pool's TOTP MFA (set up on first sign-in), and caches the tokens per endpoint (0600); later
commands send the ID token and refresh it with the refresh token. Locally login checks a token
from ``tlm admin create-user`` (or ``tlm token``) against the server and caches it the same way.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from tlm import auth
from tlm.cli.common import ROOT, console, err, fail
from tlm.client import ApiError, Client

admin_app = typer.Typer(help="Administration: users", no_args_is_help=True)

ClientId = Annotated[str | None, typer.Option(envvar="TLM_COGNITO_CLIENT_ID", help="Cognito app client id (AWS)")]
Region = Annotated[str, typer.Option(envvar=["TLM_REGION", "AWS_REGION"], help="AWS region of the user pool")]


def endpoint() -> str:
    return str(ROOT.get("endpoint") or os.environ.get("TLM_ENDPOINT") or "http://127.0.0.1:8765").rstrip("/")


def login(
    username: Annotated[str, typer.Argument(help="your e-mail")],
    client_id: ClientId = None,
    region: Region = "us-east-1",
    password: Annotated[str | None, typer.Option(envvar="TLM_PASSWORD", help="prompted when absent")] = None,
    token: Annotated[str | None, typer.Option(help="local platform: the token create-user printed")] = None,
) -> None:
    """Sign in and cache the tokens for this endpoint (Cognito on AWS, the token book locally)."""
    where = endpoint()
    if client_id:
        try:
            entry = auth.cognito_login(
                client_id=client_id,
                region=region,
                username=username,
                password=password or typer.prompt("password", hide_input=True),
                new_password=lambda: typer.prompt("new password", hide_input=True, confirmation_prompt=True),
                mfa_code=lambda: typer.prompt("authenticator code"),
                show_secret=lambda secret, uri: console.print(
                    f"add this key to your authenticator app: [bold]{secret}[/bold]\n  {uri}"
                ),
            )
        except auth.LoginFailed as e:
            err.print(f"[red]login failed:[/red] {e}")
            raise typer.Exit(1) from e
    else:
        secret = token or password or typer.prompt("token", hide_input=True)
        try:
            Client(where, secret).projects()
        except ApiError as e:
            fail(e)
        entry = {"kind": "local", "username": username, "token": secret}
    path = auth.save_credentials(where, entry)
    console.print(f"signed in to {where} as {username} (credentials in {path})")


def logout() -> None:
    """Forget the cached tokens for this endpoint."""
    auth.save_credentials(endpoint(), None)
    console.print(f"signed out of {endpoint()}")


@admin_app.command("create-user")
def create_user(
    email: str,
    user_pool_id: Annotated[str | None, typer.Option(envvar="TLM_USER_POOL_ID", help="Cognito pool (AWS)")] = None,
    region: Region = "us-east-1",
    temporary_password: Annotated[str | None, typer.Option(help="AWS: else Cognito e-mails one")] = None,
    data_dir: Annotated[Path, typer.Option(envvar="TLM_DATA_DIR", help="local platform data")] = Path(".tlm"),
) -> None:
    """Create a user. AWS: a Cognito user (e-mail verified; a temporary password, changed at first
    sign-in) with admin credentials. Locally: a user id plus a token to sign in with."""
    from runtime.users import LocalUsers

    if user_pool_id:
        import boto3
        from botocore.exceptions import ClientError

        idp = boto3.client("cognito-idp", region_name=region, endpoint_url=os.environ.get("TLM_COGNITO_ENDPOINT_URL"))
        request = {
            "UserPoolId": user_pool_id,
            "Username": email,
            "UserAttributes": [{"Name": "email", "Value": email}, {"Name": "email_verified", "Value": "true"}],
            "DesiredDeliveryMediums": ["EMAIL"],
        }
        if temporary_password:
            request["TemporaryPassword"] = temporary_password
        try:
            user = idp.admin_create_user(**request)["User"]
        except ClientError as e:
            err.print(f"[red]{e.response['Error']['Code']}:[/red] {e.response['Error']['Message']}")
            raise typer.Exit(1) from e
        sub = next(a["Value"] for a in user["Attributes"] if a["Name"] == "sub")
        console.print(f"created {email} user_id={sub} (status {user['UserStatus']})")
        return
    user_id = LocalUsers(data_dir).add(email)
    token = auth.TokenBook(data_dir).issue(user_id)
    console.print(f"created {email} user_id={user_id}\nsign in with: tlm login {email} --token {token}")
