"""Local API tokens. On first start a default user ``local`` gets a token written to
``<data_dir>/token`` (0600). Tokens are stored only as sha256 digests."""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import threading
from pathlib import Path
from typing import Any

DEFAULT_USER = "local"


class TokenBook:
    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / "tokens.json"
        self.token_file = data_dir / "token"
        self._lock = threading.Lock()
        self._digests: dict[str, str] = {}
        self._mtime = 0.0
        self._reload()

    def _reload(self) -> None:
        """Pick up tokens issued by another process (``tlm token issue``)."""
        try:
            mtime = self.path.stat().st_mtime
        except FileNotFoundError:
            return
        if mtime != self._mtime:
            self._digests = json.loads(self.path.read_text())
            self._mtime = mtime

    @staticmethod
    def _digest(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()

    def issue(self, user_id: str) -> str:
        token = "tlm_" + secrets.token_urlsafe(32)
        with self._lock:
            self._reload()
            self._digests[self._digest(token)] = user_id
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(self._digests, indent=1))
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)
        return token

    def ensure_default(self) -> str:
        """The default local user's token (created on first start)."""
        if self.token_file.exists():
            token = self.token_file.read_text().strip()
            if self.user_of(token):
                return token
        token = self.issue(DEFAULT_USER)
        fd = os.open(self.token_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(token + "\n")
        return token

    def user_of(self, token: str | None) -> str | None:
        if not token:
            return None
        digest = self._digest(token)
        if digest not in self._digests:
            self._reload()
        return self._digests.get(digest)


# ---------------------------------------------------------------- sign-in (tlm login)
# Credentials cache: one entry per API endpoint, file mode 0600 (directory 0700). A Cognito entry
# keeps the ID token (what API Gateway's Cognito authorizer checks), the access and refresh
# tokens and the expiry; ``cached_token`` refreshes with the refresh token a minute before expiry.
# A local entry keeps a token-book token (the local server checks it against tokens.json).

REFRESH_MARGIN_S = 60


class LoginFailed(RuntimeError):
    pass


def credentials_path() -> Path:
    default = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "tlm" / "credentials.json"
    return Path(os.environ.get("TLM_CREDENTIALS_FILE") or default)


def _read_credentials() -> dict[str, dict[str, object]]:
    path = credentials_path()
    return json.loads(path.read_text()) if path.exists() else {}


def save_credentials(endpoint: str, entry: dict[str, object] | None) -> Path:
    """Store (or with None, forget) the entry for ``endpoint``; the file is written 0600."""
    path = credentials_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    creds = _read_credentials()
    if entry is None:
        creds.pop(endpoint, None)
    else:
        creds[endpoint] = entry
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(creds, f, indent=1)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    return path


def _idp(region: str) -> object:
    import boto3

    return boto3.client("cognito-idp", region_name=region, endpoint_url=os.environ.get("TLM_COGNITO_ENDPOINT_URL"))


def cognito_login(
    *,
    client_id: str,
    region: str,
    username: str,
    password: str,
    new_password: object = None,
    mfa_code: object = None,
    show_secret: object = None,
    idp: object = None,
    now: float | None = None,
) -> dict[str, object]:
    """USER_PASSWORD_AUTH, answering Cognito's challenges: NEW_PASSWORD_REQUIRED (first sign-in
    with a temporary password; ``new_password()``), MFA_SETUP (the pool requires TOTP: the secret
    goes to ``show_secret(secret, otpauth_uri)`` for an authenticator app, then ``mfa_code()``)
    and SOFTWARE_TOKEN_MFA (``mfa_code()``). Returns the cache entry."""
    import time

    from botocore.exceptions import ClientError

    client: Any = idp or _idp(region)
    try:
        resp = client.initiate_auth(
            AuthFlow="USER_PASSWORD_AUTH",
            ClientId=client_id,
            AuthParameters={"USERNAME": username, "PASSWORD": password},
        )
        for _ in range(5):
            challenge = resp.get("ChallengeName")
            if challenge is None:
                break
            answers = {"USERNAME": username}
            session = resp["Session"]
            if challenge == "NEW_PASSWORD_REQUIRED" and callable(new_password):
                answers["NEW_PASSWORD"] = new_password()
            elif challenge == "MFA_SETUP" and callable(mfa_code):
                secret = client.associate_software_token(Session=session)
                if callable(show_secret):
                    show_secret(
                        secret["SecretCode"], f"otpauth://totp/TLM:{username}?secret={secret['SecretCode']}&issuer=TLM"
                    )
                verified = client.verify_software_token(
                    Session=secret.get("Session", session), UserCode=mfa_code(), FriendlyDeviceName="tlm"
                )
                session = verified.get("Session", session)
            elif challenge == "SOFTWARE_TOKEN_MFA" and callable(mfa_code):
                answers["SOFTWARE_TOKEN_MFA_CODE"] = mfa_code()
            else:
                raise LoginFailed(f"Cognito asks for {challenge}, which tlm login cannot answer")
            resp = client.respond_to_auth_challenge(
                ClientId=client_id, ChallengeName=challenge, Session=session, ChallengeResponses=answers
            )
    except ClientError as exc:
        err = exc.response.get("Error", {})
        raise LoginFailed(f"{err.get('Code')}: {err.get('Message')}") from exc
    result = resp.get("AuthenticationResult")
    if not result:
        raise LoginFailed(f"sign-in did not finish (challenge {resp.get('ChallengeName')})")
    return {
        "kind": "cognito",
        "client_id": client_id,
        "region": region,
        "username": username,
        "id_token": result["IdToken"],
        "access_token": result["AccessToken"],
        "refresh_token": result["RefreshToken"],
        "expires_at": (now if now is not None else time.time()) + int(result["ExpiresIn"]),
    }


def cached_token(endpoint: str, *, idp: object = None, now: float | None = None) -> str | None:
    """The bearer token ``tlm login`` cached for ``endpoint`` (refreshed when about to expire),
    or None when there is none."""
    import time

    entry = _read_credentials().get(endpoint)
    if not entry:
        return None
    if entry.get("kind") == "local":
        return str(entry["token"])
    t = now if now is not None else time.time()
    if float(entry["expires_at"]) - REFRESH_MARGIN_S > t:  # type: ignore[arg-type]
        return str(entry["id_token"])
    from botocore.exceptions import ClientError

    client: Any = idp or _idp(str(entry["region"]))
    try:
        result = client.initiate_auth(
            AuthFlow="REFRESH_TOKEN_AUTH",
            ClientId=entry["client_id"],
            AuthParameters={"REFRESH_TOKEN": entry["refresh_token"]},
        )["AuthenticationResult"]
    except ClientError as exc:
        raise LoginFailed(f"the session expired ({exc.response.get('Error', {}).get('Code')}): run tlm login") from exc
    entry = {**entry, "id_token": result["IdToken"], "access_token": result["AccessToken"]}
    entry["expires_at"] = t + int(result["ExpiresIn"])
    if result.get("RefreshToken"):
        entry["refresh_token"] = result["RefreshToken"]
    save_credentials(endpoint, entry)
    return str(entry["id_token"])
