"""Pipelines and projects through the `tlm` CLI against `tlm serve` (issue 15, light): create a
pipeline from YAML, validate a broken one (node and port named), save a changed version, diff and
history, export the file; export the project and import it into a second installation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e.conftest import Platform

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "pipeline_sentiment.yaml"


def cli_json(platform: Platform, *args: str, check: bool = True) -> Any:
    return json.loads(platform.cli("--json", *args, check=check).stdout)


def test_pipeline_from_yaml_to_a_second_installation(platform: Platform, tmp_path: Path) -> None:
    # Given a project and a pipeline created from the YAML file
    pid = cli_json(platform, "projects", "create", "流水线")["project_id"]
    pipe = cli_json(platform, "pipelines", "create", pid, str(FIXTURE))
    assert pipe["version"] == 1 and pipe["not_available"] == []

    # When a broken copy is validated, Then the node and the port are named (exit 2)
    broken = yaml.safe_load(FIXTURE.read_text())
    broken["nodes"][4]["inputs"]["dataset"] = "model.model"
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(broken, sort_keys=False))
    res = platform.cli("--json", "pipelines", "validate", str(bad), check=False)
    assert res.returncode == 2 and json.loads(res.stdout)["field"] == "nodes.eval.inputs.dataset"

    # When one node is changed and saved, Then version 2 differs in exactly that node's field
    changed = yaml.safe_load(FIXTURE.read_text())
    changed["nodes"][5]["params"]["expression"] = "accuracy >= 0.8"
    v2 = tmp_path / "v2.yaml"
    v2.write_text(yaml.safe_dump(changed, sort_keys=False, allow_unicode=True))
    assert cli_json(platform, "pipelines", "save", pipe["pipeline_id"], str(v2))["version"] == 2
    diff = cli_json(platform, "pipelines", "diff", pipe["pipeline_id"], "1", "2")
    assert diff["nodes"]["changed"] == ["gate"]
    assert [c["path"] for c in diff["changes"]] == ["nodes.gate.params.expression"]
    history = cli_json(platform, "pipelines", "history", pipe["pipeline_id"])["items"]
    assert [h["nodes_changed"] for h in history] == [[], ["gate"]]
    # And a run of it ends (the sample names a dataset this project lacks: that node fails, named)
    run = cli_json(platform, "pipelines", "run", pipe["pipeline_id"], "--wait")
    assert run["status"] == "failed" and run["nodes"]["data"]["status"] == "failed", run
    assert "demo-sentiment" in run["nodes"]["data"]["error"]["cause"] and run["nodes"]["train"]["status"] == "skipped"
    # And a retry (from the failed node by default) is a new run of the latest version; both are listed;
    # cancelling an ended run is refused naming the run
    again = cli_json(platform, "pipelines", "retry", run["run_id"], "--wait")
    assert again["parent_run_id"] == run["run_id"] and again["pipeline_version"] == 2 and again["force"] == [
        "canary", "data", "eval", "gate", "onnx", "train", "version"]  # fmt: skip
    listed = cli_json(platform, "pipelines", "runs", pipe["pipeline_id"])["items"]
    assert [r["run_id"] for r in listed] == [again["run_id"], run["run_id"]]
    refused = platform.cli("--json", "pipelines", "cancel", run["run_id"], check=False)
    assert refused.returncode != 0 and json.loads(refused.stdout)["field"] == "run_id"
    out = tmp_path / "v1.yaml"
    platform.cli("pipelines", "export", pipe["pipeline_id"], "--version", "1", "-o", str(out))
    assert out.read_text() == FIXTURE.read_text()

    # When the project is exported and imported into a second installation
    archive = tmp_path / "project.tar.gz"
    info = cli_json(platform, "projects", "export", pid, "-o", str(archive))
    (tmp_path / "other").mkdir()
    other = Platform(tmp_path / "other" / "data", {**platform.env, "TLM_DATA_DIR": str(tmp_path / "other" / "data")})
    other.start()
    try:
        imported = cli_json(other, "projects", "import", str(archive))
        assert imported["events"] == info["events"]
        # Then the second installation shows the same pipeline versions and the same counts
        assert cli_json(other, "pipelines", "diff", pipe["pipeline_id"], "1", "2") == diff
        counts = cli_json(platform, "projects", "show", pid)["counts"]
        assert cli_json(other, "projects", "show", pid)["counts"] == counts
    finally:
        other.stop()
