"""Who a project member is: members are added by e-mail and stored by user id (the Cognito
``sub`` on AWS, the id ``tlm admin create-user`` gave locally), so a renamed e-mail keeps its
projects. ``resolve`` passes a user id through and turns an e-mail into its id.

- ``LocalUsers``: ``<data_dir>/users.json`` ({e-mail: user id}, 0600) next to the token book.
- ``CognitoUsers``: ``ListUsers`` on the user pool filtered by ``email`` (the API function's
  only Cognito grant).
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from pathlib import Path
from typing import Any

from domain.errors import Invalid, NotFound

MAX_EMAIL = 254


def _clean_email(email: str) -> str:
    email = email.strip().lower()
    local, _, domain = email.partition("@")
    if not local or "." not in domain or len(email) > MAX_EMAIL or any(c in email for c in ' "\\'):
        raise Invalid("not an e-mail address", field="user_id")
    return email


class LocalUsers:
    def __init__(self, data_dir: Path) -> None:
        self.path = Path(data_dir) / "users.json"
        self._lock = threading.Lock()

    def _read(self) -> dict[str, str]:
        return json.loads(self.path.read_text()) if self.path.exists() else {}

    def add(self, email: str) -> str:
        """The user id of ``email``, created on first use (idempotent)."""
        email = _clean_email(email)
        with self._lock:
            users = self._read()
            if email not in users:
                users[email] = str(uuid.uuid4())
                self.path.parent.mkdir(parents=True, exist_ok=True)
                tmp = self.path.with_suffix(".tmp")
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with os.fdopen(fd, "w") as f:
                    json.dump(users, f, indent=1)
                os.replace(tmp, self.path)
            return users[email]

    def lookup(self, email: str) -> str | None:
        return self._read().get(_clean_email(email))

    def resolve(self, identifier: str) -> str:
        return _resolve(identifier, self.lookup)


class CognitoUsers:
    def __init__(self, client: Any, user_pool_id: str) -> None:
        self.client = client
        self.pool = user_pool_id

    def lookup(self, email: str) -> str | None:
        email = _clean_email(email)
        found = self.client.list_users(UserPoolId=self.pool, Filter=f'email = "{email}"', Limit=2)["Users"]
        for user in found:
            attrs = {a["Name"]: a["Value"] for a in user.get("Attributes", [])}
            if attrs.get("email", "").lower() == email and "sub" in attrs:
                return str(attrs["sub"])
        return None

    def resolve(self, identifier: str) -> str:
        return _resolve(identifier, self.lookup)


def _resolve(identifier: str, lookup: Any) -> str:
    if "@" not in identifier:
        return identifier
    user_id = lookup(identifier)
    if user_id is None:
        raise NotFound(f"no user with e-mail {identifier!r} (create it: tlm admin create-user)", field="user_id")
    return str(user_id)
