"""The pure half of the SPA's Cognito sign-in (web/src/auth/cognito.ts), run in node: the TypeScript is
transpiled with the UI's own ``typescript`` package (web/node_modules), no bundle build needed.
PKCE against RFC 7636's worked example and Python's sha256; the hosted-UI URLs and token requests."""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

pytestmark = pytest.mark.unit

WEB = Path(__file__).resolve().parents[2] / "web"
TYPESCRIPT = WEB / "node_modules" / "typescript" / "lib" / "typescript.js"
CFG = {
    "kind": "cognito",
    "userPoolId": "us-east-1_AbC",
    "clientId": "client123",
    "domain": "https://tlm-1.auth.us-east-1.amazoncognito.com/",
    "redirectUri": "https://d1.cloudfront.net/ui/auth/callback",
    "logoutUri": "https://d1.cloudfront.net/ui/",
    "scopes": ["openid", "email", "profile"],
}
# transpile cognito.ts and the one module it imports into a temp dir, import it, run the checks
SCRIPT = r"""
const { createRequire } = require("module");
const fs = require("fs"), path = require("path"), url = require("url");
const [tsPath, src, out, cfgJson] = process.argv.slice(1);
const ts = createRequire(tsPath)(tsPath);
for (const rel of ["auth/cognito", "lib/session"]) {
  const code = ts.transpileModule(fs.readFileSync(path.join(src, rel + ".ts"), "utf8"), {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
  }).outputText.replace('from "../lib/session"', 'from "../lib/session.mjs"');
  fs.mkdirSync(path.dirname(path.join(out, rel)), { recursive: true });
  fs.writeFileSync(path.join(out, rel + ".mjs"), code);
}
(async () => {
  const c = await import(url.pathToFileURL(path.join(out, "auth/cognito.mjs")).href);
  const cfg = JSON.parse(cfgJson);
  const pairs = [];
  for (let i = 0; i < 20; i++) { const v = c.randomVerifier(); pairs.push([v, await c.challengeFor(v)]); }
  const zeros = c.randomVerifier((a) => a.fill(255));
  process.stdout.write(JSON.stringify({
    rfc: await c.challengeFor("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
    pairs, zeros,
    authorize: c.authorizeUrl(cfg, { state: "st", challenge: "ch" }),
    token: c.tokenRequest(cfg, { code: "the-code", verifier: "the-verifier" }),
    refresh: c.refreshRequest(cfg, "rt"),
    revoke: c.revokeRequest(cfg, "rt"),
    logout: c.logoutUrl(cfg),
    parsed: c.parseTokens({ id_token: "id", refresh_token: "r", expires_in: 3600 }, 1000),
    refreshed: c.parseTokens({ id_token: "id2", expires_in: 60 }, 0, "r"),
    delays: [c.refreshDelay(3_601_000, 1000), c.refreshDelay(10_000, 0)],
    callback: [c.isCallback(cfg, "https://d1.cloudfront.net/ui/auth/callback?code=x&state=y"),
               c.isCallback(cfg, "https://d1.cloudfront.net/ui/projects?code=x"),
               c.isCallback(cfg, "https://d1.cloudfront.net/ui/auth/callback")],
    noId: (() => { try { c.parseTokens({ access_token: "a" }, 0); return null; } catch (e) { return e.message; } })(),
  }));
})().catch((e) => { console.error(e); process.exit(1); });
"""


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> dict:
    node = shutil.which("node")
    if node is None or not TYPESCRIPT.exists():
        pytest.skip("node or web/node_modules (make web) is missing")
    out = tmp_path_factory.mktemp("cognito")
    proc = subprocess.run(
        [node, "-e", SCRIPT, str(TYPESCRIPT), str(WEB / "src"), str(out), json.dumps(CFG)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)


def _s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).rstrip(b"=").decode()


def test_pkce_challenge_is_s256_of_a_43_character_verifier(results):
    assert results["rfc"] == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"  # RFC 7636, appendix B
    verifiers = [v for v, _ in results["pairs"]]
    assert len(set(verifiers)) == len(verifiers)
    for verifier, challenge in results["pairs"]:
        assert len(verifier) == 43 and set(verifier) <= set(
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
        )
        assert challenge == _s256(verifier)
    assert results["zeros"] == base64.urlsafe_b64encode(b"\xff" * 32).rstrip(b"=").decode()  # url-safe, no padding


def test_authorize_url_asks_for_a_code_with_the_challenge(results):
    url = urlsplit(results["authorize"])
    assert (url.scheme, url.netloc, url.path) == (
        "https",
        "tlm-1.auth.us-east-1.amazoncognito.com",
        "/oauth2/authorize",
    )
    assert {k: v[0] for k, v in parse_qs(url.query).items()} == {
        "response_type": "code",
        "client_id": "client123",
        "redirect_uri": CFG["redirectUri"],
        "scope": "openid email profile",
        "state": "st",
        "code_challenge": "ch",
        "code_challenge_method": "S256",
    }


def test_token_requests_are_form_posts_of_a_public_client(results):
    for name, fields in {
        "token": {"grant_type": "authorization_code", "client_id": "client123", "code": "the-code",
                  "redirect_uri": CFG["redirectUri"], "code_verifier": "the-verifier"},
        "refresh": {"grant_type": "refresh_token", "client_id": "client123", "refresh_token": "rt"},
        "revoke": {"token": "rt", "client_id": "client123"},
    }.items():  # fmt: skip
        req = results[name]
        endpoint = "/oauth2/revoke" if name == "revoke" else "/oauth2/token"
        assert req["url"] == "https://tlm-1.auth.us-east-1.amazoncognito.com" + endpoint
        assert req["init"]["method"] == "POST"
        assert req["init"]["headers"] == {"Content-Type": "application/x-www-form-urlencoded"}
        assert {k: v[0] for k, v in parse_qs(req["init"]["body"]).items()} == fields  # no client secret
    logout = urlsplit(results["logout"])
    assert logout.path == "/logout" and parse_qs(logout.query) == {
        "client_id": ["client123"], "logout_uri": [CFG["logoutUri"]]
    }  # fmt: skip


def test_tokens_expiry_refresh_and_callback_detection(results):
    assert results["parsed"] == {"idToken": "id", "refreshToken": "r", "expiresAt": 1000 + 3_600_000}
    assert results["refreshed"] == {"idToken": "id2", "refreshToken": "r", "expiresAt": 60_000}  # kept
    assert results["delays"] == [3_540_000, 0]  # a minute before expiry; never negative
    assert results["callback"] == [True, False, False]
    assert "id_token" in results["noId"]
