"""Sign-in on the local platform with the same commands as on AWS: an admin creates a user by
e-mail, the user signs in (token cached 0600) and later commands use the cached token; the
owner adds the member by e-mail, which resolves to the user's id."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e


def test_create_user_login_and_add_the_member_by_email(platform, tmp_path: Path) -> None:
    creds = tmp_path / "home" / "credentials.json"
    env = {k: v for k, v in platform.env.items() if k != "TLM_TOKEN"}
    env.update(TLM_ENDPOINT=platform.url, TLM_CREDENTIALS_FILE=str(creds), COLUMNS="200")

    def as_bob(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(  # noqa: S603
            [sys.executable, "-m", "tlm.cli.main", *args], env=env, capture_output=True, text=True, timeout=120
        )

    # Given a project of the default user and a user created by e-mail
    pid = platform.http().post("/projects", json={"name": "shared"}).json()["project_id"]
    created = platform.cli("admin", "create-user", "bob@example.com").stdout
    token = created.split("--token ")[1].split()[0]
    # When bob signs in with the wrong token, then with his own
    assert as_bob("login", "bob@example.com", "--token", "tlm_wrong").returncode != 0
    res = as_bob("login", "bob@example.com", "--token", token)
    assert res.returncode == 0, res.stdout + res.stderr
    assert stat.S_IMODE(creds.stat().st_mode) == 0o600
    # Then before he is a member he sees no project; the owner adds him by e-mail
    assert json.loads(as_bob("--json", "projects", "list").stdout) == {"items": []}  # the one list shape
    platform.cli("projects", "member", pid, "bob@example.com", "viewer")
    listed = json.loads(as_bob("--json", "projects", "list").stdout)["items"]
    assert [(p["project_id"], p["role"]) for p in listed] == [(pid, "viewer")]
    # And an unknown e-mail is a 404 naming the field; logout forgets the token
    bad = platform.cli("projects", "member", pid, "nobody@example.com", "viewer", check=False)
    assert bad.returncode != 0 and "user_id" in bad.stdout + bad.stderr
    assert as_bob("logout").returncode == 0
    assert json.loads(creds.read_text()) == {}
