"""A compiled pipeline renders to ASL that passes ``asl-validator`` (both job renderings), as
every shipped workflow does (tests/integration/test_asl_validator.py)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from domain.pipelines import portable
from domain.pipelines.compile import compile_pipeline
from runtime.workflows import asl

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
VALIDATOR = ROOT / "node_modules" / ".bin" / "asl-validator"


def test_compiled_pipelines_pass_asl_validator(tmp_path: Path) -> None:
    assert VALIDATOR.exists(), f"{VALIDATOR} missing: run `make install` (npm asl-validator)"
    defn = portable.loads((ROOT / "tests" / "fixtures" / "pipeline_sentiment.yaml").read_text())
    with_approval = json.loads(json.dumps(defn))
    with_approval["nodes"]["ok"] = {"kind": "approval", "params": {}, "inputs": {"metrics": "eval.metrics"}}
    with_approval["nodes"]["onnx"]["after"] = ["gate", "ok"]
    files = []
    for name, d in (("sentiment", defn), ("approval", with_approval)):
        wf = compile_pipeline(d, pipeline_id="p0a1", version=2)
        for sync in (False, True):
            path = tmp_path / f"{name}-{sync}.json"
            path.write_text(json.dumps(asl.render(wf, sync_jobs=sync)))
            files.append(path)
    args = [str(VALIDATOR)]
    for path in files:
        args += ["--json-path", str(path)]
    result = subprocess.run(args, capture_output=True, text=True, timeout=120)
    report = result.stdout + result.stderr
    for path in files:
        assert f'"{path}" is valid' in report, report
    assert result.returncode == 0
