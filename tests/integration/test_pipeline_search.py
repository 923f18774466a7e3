"""A pipeline's search node on the local engine (issue 15): the node runs a study through the search
service (its ``study`` run is the node's child run), and the study's best config, best model and
metrics feed the nodes after it through typed edges. A retry reuses the search by its input hash (no
second study), and a train node after it trains the best config. Trials run ``_fake_trial.py`` (the
study tests' stand-in for the training program), so the whole flow stays cheap."""

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
from tests.integration._crash_reactions import dataset_dir
from tests.integration.test_pipelines_api import ok

pytestmark = [pytest.mark.integration, pytest.mark.slow]

OWNER = "owner-s"
FAKE = str(Path(__file__).with_name("_fake_trial.py"))
LR = {"type": "float", "low": 1e-3, "high": 1e-2, "log": True}


@pytest.fixture(scope="module")
def container(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Container]:
    root = tmp_path_factory.mktemp("psearch")
    c = build_local(Settings(data_dir=root / "data", min_part_bytes=1024))
    c.jobs.register_program("train", FAKE)
    c.workflows.time_scale = 0.25  # the nodes' and trials' status polls, 4x faster (the jobs are tiny)
    set_container(c)
    try:
        yield c
    finally:
        for row in c.project_runs.rows():
            if row["status"] in ("running", "cancelling"):
                with contextlib.suppress(Conflict):  # ended meanwhile
                    c.workflows.cancel(row["run_id"], reason="test over")
                c.workflows.wait(row["run_id"], timeout=30)
        set_container(None)
        c.close()


def _until(run_id: str, done: Any, timeout: float = 90) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        doc = ok(OWNER, "GET", f"/pipeline-runs/{run_id}")
        if done(doc):
            return doc  # type: ignore[no-any-return]
        time.sleep(0.3)
    raise AssertionError(f"run {run_id} did not get there: {doc}")


def _ended(doc: dict[str, Any]) -> bool:
    return doc["status"] in ("succeeded", "failed", "cancelled")


def _definition(dataset_id: str, config_id: str, *, train: bool = False) -> dict[str, Any]:
    nodes: list[dict[str, Any]] = [
        {"id": "data", "kind": "dataset", "params": {"dataset_id": dataset_id}},
        # pinned: the study writes its best config as the next version of this config, and a retry's
        # config node would otherwise resolve that newer version (a new input hash: a second search)
        {"id": "params", "kind": "config", "params": {"config_id": config_id, "version": 1}},
        {"id": "hpo", "kind": "search", "inputs": {"dataset": "data.dataset", "config": "params.config"},
         "params": {"space": {"training": {"learning_rate": LR}}, "budget": 2, "max_concurrency": 2,
                    "sampler": "random", "objective": "val_accuracy"}},
        {"id": "gate", "kind": "condition", "params": {"expression": "objective > 0"},
         "inputs": {"metrics": "hpo.metrics"}},
        {"id": "version", "kind": "create_version", "inputs": {"model": "hpo.model", "metrics": "hpo.metrics"},
         "after": ["gate"]},
    ]  # fmt: skip
    if train:
        nodes.append({"id": "train", "kind": "train", "inputs": {"dataset": "data.dataset", "config": "hpo.config"},
                      "after": ["gate"]})  # fmt: skip
    return {"format": "tlm.pipeline", "schema_version": 1, "name": "search then release", "nodes": nodes}


def test_a_search_node_runs_a_study_whose_best_feeds_the_next_nodes_and_a_retry_reuses_it(
    container: Container, tmp_path: Path
) -> None:
    owner = Caller(user_id=OWNER)
    # Given a project with a small dataset, a saved tiny config, and a pipeline searching over it
    pid = ok(OWNER, "POST", "/projects", {"name": "pipeline search"})["project_id"]
    did = container.artifacts.ingest_dir(owner, pid, dataset_dir(tmp_path / "src"), name="ds", family="other",
                                         kind="dataset")  # fmt: skip
    cid = container.configs.create_from_template(owner, pid, "bert-tiny")["config_id"]
    pipe = ok(OWNER, "POST", f"/projects/{pid}/pipelines", {"definition": _definition(did, cid)})
    assert pipe["not_available"] == []

    # When version 1 runs
    first = _until(ok(OWNER, "POST", f"/pipelines/{pipe['pipeline_id']}/runs")["run_id"], _ended)
    # Then the search node ran one study of 2 trial jobs, as the run's requester
    assert first["status"] == "succeeded", first
    hpo = first["nodes"]["hpo"]
    study_id = hpo["launched"]["study_id"]
    study = container.studies.get(owner, study_id)
    assert study["finished_reason"] == "budget" and study["counts"]["complete"] == 2, study
    assert study["created_by"] == OWNER and hpo["launched"]["run_id"] == study["run_id"]
    assert first["jobs_launched"] == 2 and len(hpo["outputs"]["jobs"]) == 2
    # And its best config, best model and metrics are its outputs, read by the nodes after it
    out = hpo["outputs"]
    assert out["config"] == {"config_id": cid, "version": study["best_config_version"], "study_id": study_id}
    assert out["model"]["model_id"] == study["best_model_id"] and out["model"]["trial"] == study["best"]["number"]
    assert out["metrics"]["objective"] == pytest.approx(study["best"]["values"][0])
    version = first["nodes"]["version"]["outputs"]["version"]
    assert version["model_id"] == study["best_model_id"]
    best_lr = study["best"]["params"]["training.learning_rate"]
    best_values = ok(OWNER, "GET", f"/configs/{cid}?version={study['best_config_version']}")["values"]
    assert best_values["training"]["learning_rate"] == pytest.approx(best_lr)

    # When a train node is added after the search (version 2) and the run is retried from it
    saved = ok(OWNER, "PUT", f"/pipelines/{pipe['pipeline_id']}", {"definition": _definition(did, cid, train=True)})
    assert saved["version"] == 2
    retry = ok(OWNER, "POST", f"/pipeline-runs/{first['run_id']}/retry", {"from_node": "train"})
    second = _until(retry["run_id"], lambda d: d["nodes"]["train"]["launched"] is not None or _ended(d))
    # Then the search is reused by its input hash (no second study, no trial job) ...
    assert second["nodes"]["hpo"]["status"] == "reused", second["nodes"]["hpo"]
    assert second["nodes"]["hpo"]["outputs"]["reused_from"] == first["run_id"]
    assert len(container.studies.list(owner, pid)) == 1
    # ... and the train node trains the study's best config
    training = container.training.get(owner, second["nodes"]["train"]["launched"]["training_id"])
    assert (training["config_id"], training["config_version"]) == (cid, study["best_config_version"]), training
    # When that run is cancelled, Then the training it started ends too
    ok(OWNER, "POST", f"/pipeline-runs/{retry['run_id']}/cancel", {"reason": "test"})
    assert _until(retry["run_id"], _ended)["status"] == "cancelled"
