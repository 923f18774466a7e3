"""cfn-lint (a dev dependency, from PyPI) over every synthesized template: zero errors.

Warnings are allowed (CDK writes DependsOn next to a GetAtt, W3005); errors mean CloudFormation
would refuse or misread the template at deploy time."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.infra.conftest import STACKS

pytestmark = pytest.mark.infra


def test_every_template_passes_cfn_lint_without_errors(assembly):
    cfn_lint = shutil.which("cfn-lint") or str(Path(sys.executable).parent / "cfn-lint")
    files = [str(assembly.outdir / f"Tlm{s}.template.json") for s in STACKS]
    proc = subprocess.run([cfn_lint, "--format", "json", "--", *files], capture_output=True, text=True, timeout=300)
    assert proc.returncode & 1 == 0, proc.stderr[-3000:]  # 1: cfn-lint itself failed
    findings = json.loads(proc.stdout or "[]")
    errors = [f for f in findings if f["Level"] == "Error"]
    assert errors == [], json.dumps(errors, indent=1)[:6000]
    assert proc.returncode & 2 == 0  # the exit code agrees: no error-level finding
    linted = {Path(f).name for f in files}
    assert len(linted) == len(STACKS)
