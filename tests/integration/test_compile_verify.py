"""The compile workflow's Verify step on the local runner: a compile job whose report says the
ONNX model did not pass verification ends the compile ``failed`` at Verify, with the report's
numbers as the recorded cause, and no package job runs.

The compile program is replaced by a script (``jobs.compile`` needs torch and minutes) that
writes the report a real compile writes; everything else is real: SQLite, blob files, the local
workflow runner and job runner, the shipped compile definition and step functions."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from runtime.bootstrap import build_local
from runtime.services.commands import Caller
from runtime.settings import Settings

pytestmark = pytest.mark.integration
ALICE = Caller("alice")
FAKE_COMPILE = """
import json, os
report = {"export": {"exporter": "fake"}, "verification": %s}
model_dir = os.environ["SM_MODEL_DIR"]
with open(os.path.join(model_dir, "compile_report.json"), "w") as f:
    json.dump(report, f)
with open(os.path.join(model_dir, "model.onnx"), "wb") as f:
    f.write(b"not really onnx")
print("fake compile wrote its report", flush=True)
"""


@pytest.fixture
def c(tmp_path: Path):
    container = build_local(Settings(data_dir=tmp_path / "data"))
    yield container
    container.close()


def _model(c, tmp_path: Path) -> str:
    src = tmp_path / "model"
    src.mkdir()
    (src / "config.json").write_text('{"model_type": "bert"}')
    (src / "model.safetensors").write_bytes(b"weights")
    (src / "tokenizer.json").write_text("{}")
    pid = c.library.create_project(ALICE, "p")["project_id"]
    return str(c.artifacts.ingest_dir(ALICE, pid, src, name="m", family="bert"))


@pytest.mark.parametrize(
    ("verification", "in_cause"),
    [
        # the report's verdict alone: passed=false
        ({"sample": 16, "max_abs_diff": 0.5, "label_agreement": 0.5, "atol": 0.01, "min_label_agreement": 0.9,
          "passed": False}, '"max_abs_diff": 0.5'),
        # within atol, below the label agreement minimum only
        ({"sample": 16, "max_abs_diff": 0.0001, "label_agreement": 0.75, "atol": 0.01, "min_label_agreement": 0.9,
          "passed": False}, '"label_agreement": 0.75'),
    ],
    ids=["passed-false", "label-agreement-only"],
)  # fmt: skip
def test_a_failed_verification_fails_the_compile_at_verify(c, tmp_path: Path, verification, in_cause) -> None:
    # Given a compile program that reports this verification (and exits 0)
    script = tmp_path / "fake_compile.py"
    script.write_text(textwrap.dedent(FAKE_COMPILE % json.dumps(verification).replace("false", "False")))
    c.jobs.register_program("compile", str(script))
    mid = _model(c, tmp_path)
    # When the model is compiled
    started = c.compiles.start(ALICE, mid, "onnx", {})
    c.catch_up()  # where a reaction starts the run (what the server's subscription does)
    c.workflows.wait(started["run_id"], timeout=60)
    c.catch_up()  # and records its outcome on the compile
    done = c.compiles.show(ALICE, started["compile_id"])
    # Then the compile failed at Verify with the report's numbers as the cause, and nothing was packaged
    assert (done["status"], done["failed_step"], done["error"]) == ("failed", "Verify", "TLM.VerificationFailed"), done
    assert "did not pass" in done["reason"] and in_cause in done["reason"], done["reason"]
    assert set(done["jobs"]) == {"Compile"}, done["jobs"]
    assert done["run"]["status"] == "failed" and done["artifacts"] == {}
