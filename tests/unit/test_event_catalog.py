"""The projector Lambda knows every event type of the domain at cold start (an unknown type is
poison there), without anything else having been imported first."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.unit

PROBE = """
import json, os
from functions.projector import handler
handler.dependencies()
from domain.events import registered_types
print(json.dumps(sorted(registered_types())))
"""


def test_a_cold_projector_knows_every_event_type_of_the_domain():
    env = {**os.environ, "TLM_BACKEND": "aws", "AWS_DEFAULT_REGION": "us-east-1"}
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    known = set(json.loads(out.stdout.strip().splitlines()[-1]))
    from domain.catalog import load_all

    # (this process may hold test-only event types too: compare the domain's own)
    domain_types = {name for name, cls in load_all().items() if cls.__module__.startswith("domain.")}
    assert domain_types <= known
    # one from each module family, so a catalog that silently loads nothing fails here
    for name in ("project.created", "model.registered", "model.file_added", "job.log_archived"):
        assert name in known
    assert any(t.startswith("config.") for t in known) and any(t.startswith("compile.") for t in known)
    assert any(t.startswith("workflowrun.") for t in known) and any(t.startswith("training.") for t in known)
