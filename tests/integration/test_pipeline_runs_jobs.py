"""Pipeline runs with real jobs on the local engine (issue 15 item 3): template -> demo data (200
texts) -> tiny config -> arch edit -> train (train + evaluate jobs) -> gate -> compile (compile +
package jobs) -> create version -> deploy (a canary once a deployment exists). Then one node changes
(a new pipeline version) and the run is retried from it: only that node and its descendants launch
jobs, the others' outputs are reused by input hash. Cancel stops the training a node started."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from domain.errors import Conflict
from runtime.bootstrap import Container, build_local, set_container
from runtime.services.commands import Caller
from runtime.settings import Settings
from tests.integration._release_fixtures import FakeServing
from tests.integration.test_pipelines_api import call, ok

pytestmark = [pytest.mark.integration, pytest.mark.slow]

OWNER = "owner-j"
TINY = {"epochs": 1, "max_steps": 2, "max_seq_length": 16, "batch_size": 16}
JOB_PREFIXES = ("tlm-train", "tlm-evaluate", "tlm-compile", "tlm-package")


@pytest.fixture(scope="module")
def container(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Container]:
    fake = FakeServing()  # the serving slots a deploy node's deployment starts (contract-tested fake)
    patch = pytest.MonkeyPatch()
    patch.setattr(Container, "serving", property(lambda self: fake), raising=False)
    c = build_local(Settings(data_dir=tmp_path_factory.mktemp("pjobs") / "data", min_part_bytes=1024))
    c.workflows.time_scale = 0.25  # the job nodes' 2 s status polls every 0.5 s (the jobs are tiny)
    set_container(c)
    try:
        yield c
    finally:
        for row in c.project_runs.rows():  # a release still baking
            if row["status"] in ("running", "cancelling"):
                with contextlib.suppress(Conflict):  # cancelled meanwhile
                    c.workflows.cancel(row["run_id"], reason="test over")
                c.workflows.wait(row["run_id"], timeout=30)
        set_container(None)
        c.close()
        patch.undo()


def _jobs_on_disk(c: Container) -> list[str]:
    """Job dirs of the local job runner: what was really launched, counted apart from the run view."""
    root = Path(c.jobs.root)  # type: ignore[attr-defined]
    return sorted(p.name for p in root.iterdir() if p.is_dir() and p.name.startswith(JOB_PREFIXES))


def _until(run_id: str, done: Any, timeout: float = 150) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        doc = ok(OWNER, "GET", f"/pipeline-runs/{run_id}")
        if done(doc):
            return doc  # type: ignore[no-any-return]
        time.sleep(0.3)
    raise AssertionError(f"run {run_id} did not get there: {doc}")


def _ended(doc: dict[str, Any]) -> bool:
    return doc["status"] in ("succeeded", "failed", "cancelled")


def _definition(dataset_id: str, target: str = "onnx") -> dict[str, Any]:
    return {
        "format": "tlm.pipeline", "schema_version": 1, "name": "tiny sentiment",
        "nodes": [
            {"id": "model", "kind": "choose_model", "params": {"template": "bert-tiny"}},
            {"id": "data", "kind": "dataset", "params": {"dataset_id": dataset_id}},
            {"id": "params", "kind": "config", "params": {"template": "bert-tiny", "overrides": {"training": TINY}}},
            {"id": "arch", "kind": "arch_edit", "params": {"edit": {"num_layers": 1}},
             "inputs": {"config": "params.config"}},
            {"id": "train", "kind": "train", "params": {"max_epochs": 1},
             "inputs": {"dataset": "data.dataset", "config": "arch.config", "model": "model.model"}},
            {"id": "eval", "kind": "evaluate", "inputs": {"model": "train.model", "dataset": "data.dataset"}},
            {"id": "gate", "kind": "condition", "params": {"expression": "accuracy >= 0"},
             "inputs": {"metrics": "eval.metrics"}},
            {"id": "onnx", "kind": "compile", "params": {"target": target, "recipe": {"exporter": "torchscript"}},
             "inputs": {"model": "train.model"},
             "after": ["gate"]},
            {"id": "version", "kind": "create_version", "inputs": {"model": "onnx.model", "metrics": "eval.metrics"}},
            {"id": "canary", "kind": "deploy", "params": {"endpoint": "sentiment", "canary_percent": 10,
             "bake_minutes": 0}, "inputs": {"version": "version.version"}},
        ],
    }  # fmt: skip


def test_jobs_run_and_a_retry_from_a_changed_node_reuses_the_rest(container: Container) -> None:
    # Given a project with the demo dataset (200 texts) and a pipeline of tiny jobs
    pid = ok(OWNER, "POST", "/projects", {"name": "pipeline jobs"})["project_id"]
    imported = container.training.import_demo(Caller(user_id=OWNER), pid, limit=200)
    assert imported["dataset_id"], imported
    pipe = ok(OWNER, "POST", f"/projects/{pid}/pipelines", {"definition": _definition(imported["dataset_id"])})
    assert pipe["not_available"] == []

    # When version 1 runs
    first = _until(ok(OWNER, "POST", f"/pipelines/{pipe['pipeline_id']}/runs")["run_id"], _ended)
    # Then every node recorded its outputs, read by the nodes after it, and 4 jobs ran
    assert first["status"] == "succeeded", first
    nodes = first["nodes"]
    assert {n: d["status"] for n, d in nodes.items() if n != "gate"} == dict.fromkeys(set(nodes) - {"gate"}, "recorded")
    model_id = nodes["train"]["outputs"]["model"]["model_id"]
    training = container.training.get(Caller(user_id=OWNER), nodes["train"]["launched"]["training_id"])
    trained_config = ok(OWNER, "GET", f"/configs/{training['config_id']}")  # the arch edit's derived config
    assert trained_config["origin"] == "derived"
    assert trained_config["values"]["architecture"]["num_hidden_layers"] == 1
    assert nodes["onnx"]["outputs"]["model"]["model_id"] == model_id
    assert isinstance(nodes["eval"]["outputs"]["metrics"]["accuracy"], float)
    version = nodes["version"]["outputs"]["version"]
    compile_id = nodes["onnx"]["launched"]["compile_id"]
    assert ok(OWNER, "GET", f"/versions/{version['version_id']}")["compile_id"] == compile_id
    deployment = nodes["canary"]["outputs"]["deployment"]
    assert deployment["strategy"] == "start" and deployment["version_id"] == version["version_id"]
    assert first["jobs_launched"] == 4 and len(_jobs_on_disk(container)) == 4
    assert nodes["train"]["duration_s"] > 0 and nodes["train"]["started_at"] <= nodes["onnx"]["started_at"]

    # When the compile node changes (version 2) and the run is retried from it
    changed = _definition(imported["dataset_id"], target="onnx-int8")
    assert ok(OWNER, "PUT", f"/pipelines/{pipe['pipeline_id']}", {"definition": changed})["version"] == 2
    retry = ok(OWNER, "POST", f"/pipeline-runs/{first['run_id']}/retry", {"from_node": "onnx"})
    assert retry["pipeline_version"] == 2 and retry["force"] == ["canary", "onnx", "version"]
    second = _until(retry["run_id"], _ended)
    # Then train and eval are reused (no job), only the compile node and its descendant launched jobs
    assert second["status"] == "succeeded", second
    status = {n: d["status"] for n, d in second["nodes"].items()}
    assert status["arch"] == "recorded" and status["train"] == status["eval"] == "reused"
    assert status["onnx"] == status["version"] == status["canary"] == "recorded"
    assert second["nodes"]["train"]["outputs"]["reused_from"] == first["run_id"]
    assert second["nodes"]["train"]["outputs"]["model"] == nodes["train"]["outputs"]["model"]
    assert second["jobs_launched"] == 2 and len(_jobs_on_disk(container)) == 6  # compile + package only
    assert second["nodes"]["onnx"]["outputs"]["model"]["target"] == "onnx-int8"
    assert second["parent_run_id"] == first["run_id"] and second["pipeline_version"] == 2
    # And the deploy node updated the same deployment to the new version with a canary, which finishes
    update = second["nodes"]["canary"]["outputs"]["deployment"]
    new_version = second["nodes"]["version"]["outputs"]["version"]["version_id"]
    assert update["deployment_id"] == deployment["deployment_id"] and update["strategy"] == "canary"
    deadline = time.monotonic() + 60
    while ok(OWNER, "GET", f"/deployments/{update['deployment_id']}")["primary_version"] != new_version:
        assert time.monotonic() < deadline, ok(OWNER, "GET", f"/deployments/{update['deployment_id']}")
        time.sleep(0.3)
    runs = ok(OWNER, "GET", f"/pipelines/{pipe['pipeline_id']}/runs")["items"]
    assert [r["run_id"] for r in runs] == [second["run_id"], first["run_id"]]

    # When a retry names a node the version lacks, Then 422 naming from_node, and no run starts
    status_code, body = call(OWNER, "POST", f"/pipeline-runs/{first['run_id']}/retry", {"from_node": "nope"})
    assert (status_code, body["field"]) == (422, "from_node")

    # When a fresh run is cancelled while its training runs
    run_id = ok(OWNER, "POST", f"/pipelines/{pipe['pipeline_id']}/runs")["run_id"]
    _until(run_id, lambda d: d["nodes"]["train"]["launched"] is not None or _ended(d))
    cancelled = ok(OWNER, "POST", f"/pipeline-runs/{run_id}/cancel", {"reason": "test"})
    training_id = cancelled["nodes"]["train"]["launched"]["training_id"]
    # Then the run and the training it started end cancelled, and a second cancel is a 409
    done = _until(run_id, _ended, timeout=60)
    assert done["status"] == "cancelled" and done["nodes"]["train"]["status"] in ("cancelled", "running"), done
    deadline = time.monotonic() + 60
    while container.training.get(Caller(user_id=OWNER), training_id)["state"] not in ("cancelled", "failed"):
        assert time.monotonic() < deadline, "the training kept running"
        time.sleep(0.3)
    status_code, body = call(OWNER, "POST", f"/pipeline-runs/{run_id}/cancel", {})
    assert (status_code, body["field"]) == (409, "run_id")
