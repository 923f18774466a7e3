"""Cognito sign-in in the real bundle, without AWS: the page's /config.json is replaced (Playwright
route) by one naming a "hosted UI" on the server's own origin, whose authorize, token, revoke and
logout endpoints the test answers. The token endpoint hands out the local API token as the ID token,
so the rest of the app runs against tlm serve as usual. Checks the PKCE pair end to end."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.browser.conftest import shot
from tests.e2e.conftest import Platform

pytestmark = [pytest.mark.browser, pytest.mark.slow]  # like the rest of the browser tier


def _query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def _go(url: str) -> str:
    return f'<!doctype html><meta http-equiv="refresh" content="0;url={url}">'


def test_cognito_sign_in_with_pkce_refresh_token_and_sign_out(page: Any, ui_platform: Platform) -> None:
    base = ui_platform.url.rstrip("/")
    idp = f"{base}/fake-cognito"
    config = {
        "apiUrl": base,
        "auth": {"kind": "cognito", "region": "us-east-1", "userPoolId": "us-east-1_T", "clientId": "web-client",
                 "domain": idp, "redirectUri": f"{base}/ui/auth/callback", "logoutUri": f"{base}/ui/",
                 "scopes": ["openid", "email", "profile"]},
    }  # fmt: skip
    seen: dict[str, Any] = {}

    def authorize(route: Any) -> None:
        seen["authorize"] = q = _query(route.request.url)
        route.fulfill(content_type="text/html", body=_go(f"{q['redirect_uri']}?code=c0de&state={q['state']}"))

    def token(route: Any) -> None:
        seen["token"] = dict(parse_qs(route.request.post_data or ""))
        route.fulfill(content_type="application/json",
                      body=json.dumps({"id_token": ui_platform.token, "access_token": "a", "refresh_token": "r1",
                                       "expires_in": 3600, "token_type": "Bearer"}))  # fmt: skip

    def revoke(route: Any) -> None:
        seen["revoke"] = dict(parse_qs(route.request.post_data or ""))
        route.fulfill(status=200, body="")

    def logout(route: Any) -> None:
        seen["logout"] = q = _query(route.request.url)
        route.fulfill(content_type="text/html", body=_go(q["logout_uri"]))

    page.route("**/config.json", lambda r: r.fulfill(content_type="application/json", body=json.dumps(config)))
    page.route("**/fake-cognito/oauth2/authorize*", authorize)
    page.route("**/fake-cognito/oauth2/token", token)
    page.route("**/fake-cognito/oauth2/revoke", revoke)
    page.route("**/fake-cognito/logout*", logout)

    # Given the sign-in page of a site whose config names Cognito: a Cognito button, no token field
    page.goto("/ui/projects?project=p0")
    button = page.get_by_test_id("cognito-sign-in")
    button.wait_for()
    assert page.locator("#token").count() == 0
    shot(page, "sign-in-cognito")
    # When the user signs in through the hosted UI
    button.click()
    page.get_by_test_id("sign-out").wait_for()
    # Then the code was exchanged with the verifier whose S256 challenge went to /authorize
    a, t = seen["authorize"], {k: v[0] for k, v in seen["token"].items()}
    assert (a["response_type"], a["client_id"], a["code_challenge_method"]) == ("code", "web-client", "S256")
    assert a["scope"] == "openid email profile" and a["redirect_uri"] == f"{base}/ui/auth/callback"
    assert (t["grant_type"], t["code"], t["client_id"], t["redirect_uri"]) == (
        "authorization_code", "c0de", "web-client", a["redirect_uri"]
    )  # fmt: skip
    digest = base64.urlsafe_b64encode(hashlib.sha256(t["code_verifier"].encode()).digest()).rstrip(b"=").decode()
    assert digest == a["code_challenge"] and len(t["code_verifier"]) == 43
    # ... the tab is back where it started, without the code in its address, signed in as the token's user
    assert urlsplit(page.url).path == "/ui/projects" and "code=" not in page.url
    page.get_by_test_id("user").filter(has_text="local").wait_for()
    assert page.evaluate("sessionStorage.getItem('tlm.token')") == ui_platform.token
    kept = json.loads(page.evaluate("sessionStorage.getItem('tlm.cognito.tokens')"))
    assert kept["refreshToken"] == "r1" and kept["idToken"] == ""  # the ID token lives in tlm.token only
    assert page.evaluate("sessionStorage.getItem('tlm.cognito.pkce')") is None
    # When the user signs out: the refresh token is revoked and the hosted UI's session ends too
    page.get_by_test_id("sign-out").click()
    page.get_by_test_id("cognito-sign-in").wait_for()
    assert seen["logout"] == {"client_id": "web-client", "logout_uri": f"{base}/ui/"}
    assert {k: v[0] for k, v in seen["revoke"].items()} == {"token": "r1", "client_id": "web-client"}
    assert page.evaluate("[sessionStorage.getItem('tlm.token'), sessionStorage.getItem('tlm.cognito.tokens')]") == [
        None, None
    ]  # fmt: skip


def test_local_config_keeps_the_token_sign_in(page: Any, ui_platform: Platform) -> None:
    # the bundle's own /config.json (web/public): token sign-in, served no-cache by tlm serve
    res = page.request.get("/config.json")
    assert res.ok and res.json()["auth"] == {"kind": "token"}
    assert res.headers["cache-control"] == "no-cache"
    page.goto("/")
    page.locator("#token").wait_for()
    assert page.get_by_test_id("cognito-sign-in").count() == 0
