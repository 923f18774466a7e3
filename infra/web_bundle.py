"""What the web stack (``infra/stacks/web.py``) deploys and sends, kept apart from CDK so it is testable
on its own: where the built bundle is, the content security policy, the runtime config and the two
CloudFront Functions.

- The bundle is ``web/dist``, built by ``make web`` and never committed. Synth FAILS with
  ``MissingBundle`` (naming the command) when it is missing, rather than deploying a site without a
  UI; context ``tlm:web-dist`` points at another built directory (the infra tests synthesize a tiny
  stand-in bundle, so they do not depend on the UI build and stay fast).
- The CSP is ``tlm serve``'s (``runtime.web_ui.CSP``) with ``connect-src`` widened to exactly what the
  SPA reaches beyond its origin on AWS: the Cognito hosted-UI domain (token exchange and refresh)
  and the data buckets (presigned upload parts and downloads). Nothing else differs.
- The API is served through the same distribution (its paths go to API Gateway), so the SPA calls it
  on its own origin, as locally: no CORS, no preflight, ``connect-src 'self'`` covers it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from runtime.web_ui import CSP, ROOT_FILES

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DIST = REPO / "web" / "dist"
CONFIG_KEY = "config.json"  # the runtime config the SPA reads at start (web/public/config.json locally)
CALLBACK_PATH = "/ui/auth/callback"  # the SPA's Cognito redirect target (any /ui/* path is the SPA)
SIGNED_OUT_PATH = "/ui/"
OAUTH_SCOPES = ("openid", "email", "profile")
# the paths the bundle owns, as CloudFront path patterns (tlm.web_static.is_ui_path's list);
# everything else is the API's. "/" itself is redirected to /ui/ by ROOT_REDIRECT.
UI_PATTERNS = ("/ui", "/ui/*")
FILE_PATTERNS = ("/assets/*", "/index.html", *(f"/{name}" for name in sorted(ROOT_FILES)))
assert f"/{CONFIG_KEY}" in FILE_PATTERNS  # tlm serve serves it too


class MissingBundle(RuntimeError):
    pass


def bundle_dir(context_value: object = None) -> Path:
    """The built bundle to deploy; ``MissingBundle`` (clear message) when it is not built."""
    root = Path(str(context_value)) if context_value else DEFAULT_DIST
    if not (root / "index.html").is_file() or not (root / "assets").is_dir():
        raise MissingBundle(
            f"The web UI bundle is not built: {root}/index.html (and assets/) missing. "
            "Run `make web` (npm ci + vite build into web/dist) before `cdk synth` / `make deploy`, "
            "or pass --context tlm:web-dist=<a built bundle directory>."
        )
    return root


def aws_csp(connect: Sequence[str]) -> str:
    """``tlm serve``'s CSP with ``connect-src 'self'`` extended by ``connect`` (origins)."""
    directive = "connect-src 'self'"
    if directive not in CSP:
        raise AssertionError("runtime.web_ui.CSP no longer has connect-src 'self'")
    return CSP.replace(directive, " ".join([directive, *connect]))


def runtime_config(
    *,
    site_url: str,
    api_url: str,
    region: str,
    user_pool_id: str,
    client_id: str,
    auth_domain_url: str,
) -> dict[str, object]:
    """``/config.json`` on AWS (values may be CloudFormation tokens, resolved at deploy time).
    ``auth.kind`` = "cognito" makes the sign-in page offer the hosted UI; locally the file says
    "token" (``web/public/config.json``)."""
    return {
        "apiUrl": api_url,
        "auth": {
            "kind": "cognito",
            "region": region,
            "userPoolId": user_pool_id,
            "clientId": client_id,
            "domain": auth_domain_url,
            "redirectUri": site_url + CALLBACK_PATH,
            "logoutUri": site_url + SIGNED_OUT_PATH,
            "scopes": list(OAUTH_SCOPES),
        },
    }


# CloudFront Functions (cloudfront-js-2.0, viewer request). Every client route under /ui answers
# index.html (the app routes in the browser), without a distribution-wide 403/404 -> index.html
# error page that would also rewrite the API's own 403/404 answers.
SPA_REWRITE = """function handler(event) {
  var request = event.request;
  request.uri = "/index.html";
  return request;
}
"""
# on the API's (default) behavior: "/" is the UI's, as with tlm serve
ROOT_REDIRECT = """function handler(event) {
  var request = event.request;
  if (request.uri === "/") {
    return { statusCode: 302, statusDescription: "Found", headers: { location: { value: "/ui/" } } };
  }
  return request;
}
"""
