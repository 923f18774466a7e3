"""What the browser UI's bundle needs from whoever serves it, on both backends: the files at the
site's root besides ``index.html`` and the content security policy. ``tlm serve`` sends them
locally (``tlm.web_static``); the AWS web stack (``infra/web_bundle.py``) deploys the same
files and puts the same policy on CloudFront, with ``connect-src`` widened to Cognito."""

from __future__ import annotations

# config.json: the runtime config the SPA reads at start (web/public/config.json: token sign-in; on AWS
# the web stack writes one naming Cognito, infra/web_bundle.py)
ROOT_FILES = frozenset({"favicon.svg", "config.json"})
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
    "font-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
    "form-action 'self'"
)
