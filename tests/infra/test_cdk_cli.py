"""`cdk synth` with the npm aws-cdk CLI, offline (the session's one synth runs through it)."""

from __future__ import annotations

import json

import pytest

from tests.infra.conftest import CDK_CLI, REPO

pytestmark = pytest.mark.infra


def test_cdk_json_runs_the_python_app():
    cdk = json.loads((REPO / "cdk.json").read_text())
    assert cdk["app"].endswith("-m infra.app")


@pytest.mark.skipif(
    not CDK_CLI.exists(),
    reason="npm aws-cdk CLI not installed in ./node_modules "
    "(make installs it: npm install --prefix . --no-save aws-cdk)",
)
def test_cdk_synth_runs_offline_with_the_npm_cli(assembly):
    assert assembly.mode == "cli"
    manifest = json.loads((assembly.outdir / "manifest.json").read_text())
    stacks = {k for k, v in manifest["artifacts"].items() if v["type"] == "aws:cloudformation:stack"}
    assert {f"Tlm{s}" for s in ("Storage", "Api", "Projector", "Uploads", "Workflows", "Observability")} <= stacks
    print(f"\ncdk synth (CLI, offline): {assembly.seconds:.1f} s")
