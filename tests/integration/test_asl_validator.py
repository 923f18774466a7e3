"""Every ASL definition TLM renders passes the third-party validator ``asl-validator`` (npm,
installed by ``make install`` into node_modules): each shipped workflow in both job renderings
(create + poll, and ``createTrainingJob.sync`` as infra deploys it) and every scenario workflow
(Map with concurrency and tolerance, Parallel, child workflow), placeholders left as infra
passes them. A broken definition in the same call must be reported invalid."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from runtime.workflows import asl
from runtime.workflows import definitions as d
from tests.workflow_scenarios import all_scenario_workflows

pytestmark = [pytest.mark.integration, pytest.mark.slow]

VALIDATOR = Path(__file__).resolve().parents[2] / "node_modules" / ".bin" / "asl-validator"


def definitions() -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for name, w in d.all_workflows().items():
        out[f"{name}-poll"] = asl.render(w)
        out[f"{name}-sync"] = asl.render(w, sync_jobs=True)
    for name, w in all_scenario_workflows().items():
        out[name] = asl.render(w)
    return out


def test_every_rendered_definition_passes_asl_validator(tmp_path: Path) -> None:
    assert VALIDATOR.exists(), f"{VALIDATOR} missing: run `make install` (npm asl-validator)"
    files = {}
    for name, body in definitions().items():
        files[name] = tmp_path / f"{name}.json"
        files[name].write_text(json.dumps(body))
    broken = tmp_path / "broken.json"  # the control: a dangling Next and no terminal state
    broken.write_text(json.dumps({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"}}}))
    args = [str(VALIDATOR)]
    for path in [*files.values(), broken]:
        args += ["--json-path", str(path)]
    result = subprocess.run(args, capture_output=True, text=True, timeout=120)
    report = result.stdout + result.stderr
    for name, path in files.items():
        assert f'"{path}" is valid' in report, f"{name} rejected:\n{report}"
    assert f'"{broken}" is invalid' in report and "MISSING_TRANSITION_TARGET" in report
    assert result.returncode == 1  # only the control failed
    assert len(files) >= 13
