"""The API handler under concurrent calls, as the local server makes them (a thread pool). The
powertools resolver holds the current request on itself (a Lambda instance serves one request at a
time), so two requests resolved at once could read each other's event: a request was answered as
another user (and two with path parameters once answered 500 ``KeyError: '_route_args'``). The
handler resolves one request at a time."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest

from functions.api import handler as api
from runtime.bootstrap import build_local, set_container
from runtime.settings import Settings
from tlm.server import proxy_event

pytestmark = pytest.mark.integration


class Context:
    function_name = "tlm-concurrency"
    function_version = "$LATEST"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:tlm-concurrency"
    aws_request_id = "req-concurrency"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


def test_concurrent_requests_are_each_answered_as_their_own_user(tmp_path):
    # Given the local container behind the API handler, and eight users
    container = build_local(Settings(data_dir=tmp_path))
    set_container(container)
    users = [f"user-{i}" for i in range(8)]

    def ask(user: str) -> list[tuple[int, str]]:
        out = []
        for _ in range(200):
            res = api.handler(proxy_event("GET", "/me", {}, b"", user, f"rid-{user}"), Context())
            out.append((res["statusCode"], json.loads(res["body"]).get("user_id", "")))
        return out

    try:
        # When they all ask "who am I" at the same time, from eight threads
        with ThreadPoolExecutor(len(users)) as pool:
            answers = dict(zip(users, pool.map(ask, users), strict=True))
    finally:
        container.close()
    # Then every answer is a 200 naming the user who asked
    wrong = {u: [a for a in got if a != (200, u)] for u, got in answers.items()}
    assert all(not w for w in wrong.values()), {u: w[:3] for u, w in wrong.items() if w}
