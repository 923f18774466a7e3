"""Shared test set-up: fake AWS credentials and offline flags for every tier."""

from __future__ import annotations

import os

os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_SESSION_TOKEN", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ["AWS_ACCOUNT_ID_ENDPOINT_MODE"] = "disabled"
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["ORT_DISABLE_TELEMETRY"] = "1"
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "tlm-test")
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "1")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "TLMTest")

# Hypothesis: no example database (no state carried between runs or shared between the helpers'
# worktrees) and derandomized, so every run of `make test` tries the same examples; a failure
# prints its reproduction blob. HYPOTHESIS_PROFILE=explore searches randomly (still no database).
from hypothesis import settings as _hypothesis_settings  # noqa: E402

_hypothesis_settings.register_profile("ci", database=None, derandomize=True, print_blob=True)
_hypothesis_settings.register_profile("explore", database=None, derandomize=False, print_blob=True)
_hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def pytest_collection_modifyitems(config, items):  # noqa: ARG001 - pytest's hook signature
    """The browser tier runs last: Playwright's sync API keeps an event loop running in the main
    thread for as long as its session fixture lives, and ``asyncio.run`` in any later test then fails
    ("cannot be called from a running event loop")."""
    items.sort(key=lambda item: "tests/browser/" in item.nodeid.replace("\\", "/"))
