"""Pipeline runs on the local engine (first slice): a run request starts the version's compiled
workflow through the reaction; source nodes resolve and record their outputs; a node kind that
refused by the service it calls fails the run naming the node and the field."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from runtime.bootstrap import Container, build_local, set_container
from runtime.settings import Settings
from tests.integration.test_pipelines_api import FIXTURE, call, ok

pytestmark = pytest.mark.integration

OWNER = "owner-r"


@pytest.fixture(scope="module")
def container(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Container]:
    c = build_local(Settings(data_dir=tmp_path_factory.mktemp("runs") / "data", min_part_bytes=1024))
    set_container(c)
    try:
        yield c
    finally:
        set_container(None)
        c.close()


def _until_done(run_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        doc = ok(OWNER, "GET", f"/pipeline-runs/{run_id}")
        if doc["status"] in ("succeeded", "failed", "cancelled"):
            return doc  # type: ignore[no-any-return]
        time.sleep(0.2)
    raise AssertionError(f"run {run_id} did not end: {doc}")


def test_a_run_resolves_its_sources_and_names_the_node_that_cannot_run(container: Container) -> None:
    # Given a project with a dataset, and the sample pipeline reading it
    pid = ok(OWNER, "POST", "/projects", {"name": "runs"})["project_id"]
    dataset = ok(OWNER, "POST", f"/projects/{pid}/datasets", {"name": "reviews"})["model_id"]
    doc = yaml.safe_load(FIXTURE.read_text())
    doc["nodes"][1]["params"]["dataset_id"] = dataset
    sources = {**doc, "nodes": doc["nodes"][:3]}  # model, data, params
    # When a pipeline of the three source nodes runs
    small = ok(OWNER, "POST", f"/projects/{pid}/pipelines", {"definition": sources})
    run = ok(OWNER, "POST", f"/pipelines/{small['pipeline_id']}/runs")
    done = _until_done(run["run_id"])
    # Then it succeeds and every node recorded what it resolved
    assert done["status"] == "succeeded" and done["pipeline_version"] == 1, done
    assert done["nodes"]["data"]["outputs"] == {"dataset": {"dataset_id": dataset, "version": 1}}
    assert {n["status"] for n in done["nodes"].values()} == {"recorded"}
    assert done["nodes"]["model"]["outputs"] == {"model": {"template": "bert-tiny"}}
    # When the whole sample runs, Then it fails at the first job node, named, after the sources
    full = ok(OWNER, "POST", f"/projects/{pid}/pipelines", {"definition": doc})
    failed = _until_done(ok(OWNER, "POST", f"/pipelines/{full['pipeline_id']}/runs")["run_id"])
    assert failed["status"] == "failed" and failed["nodes"]["params"]["status"] == "recorded"
    assert failed["nodes"]["train"]["status"] == "failed" and failed["nodes"]["eval"]["status"] == "skipped"
    # (the training service refuses the empty dataset: the node's error names the node and the field)
    assert failed["nodes"]["train"]["error"]["error"] == "TLM.NodeFailed", failed["nodes"]["train"]
    assert "node train" in failed["nodes"]["train"]["error"]["cause"]
    assert "dataset_id" in failed["nodes"]["train"]["error"]["cause"]
    # And a version that does not exist is a 404 naming it; the project counts its runs
    status, body = call(OWNER, "POST", f"/pipelines/{full['pipeline_id']}/runs?version=9")
    assert (status, body["field"]) == (404, "version")
    assert ok(OWNER, "GET", f"/projects/{pid}")["counts"]["pipeline_runs"] == 2


def test_an_approval_node_waits_for_an_approver_then_the_run_goes_on_or_fails(container: Container) -> None:
    # Given a pipeline whose approval node (owner approves) stands between a source and a config
    container.workflows.time_scale = 0.2  # the node polls every 5 s: 1 s here
    pid = ok(OWNER, "POST", "/projects", {"name": "approvals"})["project_id"]
    editor = "editor-r"
    ok(OWNER, "PUT", f"/projects/{pid}/members/{editor}", {"role": "editor"})
    defn = {
        "format": "tlm.pipeline", "schema_version": 1, "name": "gated",
        "nodes": [
            {"id": "model", "kind": "choose_model", "params": {"template": "bert-tiny"}},
            {"id": "ok", "kind": "approval", "params": {"poll_seconds": 5}, "after": ["model"]},
            {"id": "params", "kind": "config", "params": {"template": "bert-tiny"}, "after": ["ok"]},
        ],
    }  # fmt: skip
    pipe = ok(OWNER, "POST", f"/projects/{pid}/pipelines", {"definition": defn})

    def waiting(run_id: str) -> dict[str, Any]:
        deadline = time.monotonic() + 30
        while (doc := ok(OWNER, "GET", f"/pipeline-runs/{run_id}"))["nodes"]["ok"]["status"] != "waiting":
            assert time.monotonic() < deadline, doc
            time.sleep(0.2)
        return doc  # type: ignore[no-any-return]

    # When a run reaches the node, Then it waits; an editor is not an approver (403 naming the node)
    run_id = ok(OWNER, "POST", f"/pipelines/{pipe['pipeline_id']}/runs")["run_id"]
    assert waiting(run_id)["status"] == "running"
    status, body = call(editor, "POST", f"/pipeline-runs/{run_id}/approvals/ok", {"decision": "approve"})
    assert (status, body["field"]) == (403, "node")
    # When the owner approves, Then the run goes on to the end; a second decision is a 409
    decided = ok(OWNER, "POST", f"/pipeline-runs/{run_id}/approvals/ok", {"decision": "approve", "comment": "ok"})
    assert decided["nodes"]["ok"]["approval"] == {"approved": True, "by": OWNER, "comment": "ok"}
    done = _until_done(run_id)
    assert done["status"] == "succeeded" and done["nodes"]["params"]["status"] == "recorded", done
    status, body = call(OWNER, "POST", f"/pipeline-runs/{run_id}/approvals/ok", {"decision": "reject"})
    assert (status, body["field"]) == (409, "run_id")
    # When another run is rejected, Then it fails at the node, and the node after it never runs
    other = ok(OWNER, "POST", f"/pipelines/{pipe['pipeline_id']}/runs")["run_id"]
    waiting(other)
    ok(OWNER, "POST", f"/pipeline-runs/{other}/approvals/ok", {"decision": "reject"})
    failed = _until_done(other)
    assert failed["status"] == "failed" and failed["nodes"]["params"]["status"] == "skipped", failed
    assert failed["nodes"]["ok"]["status"] == "failed" and failed["nodes"]["ok"]["approval"]["approved"] is False
