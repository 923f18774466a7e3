"""The pipeline editor in headless Chromium: a four-node pipeline built by dragging node kinds from
the palette onto the canvas and connecting typed ports, a type mismatch refused with a message,
the server's validation error shown on the node it names, saved, saved again as a new version,
and the two versions diffed; version 2 then runs for real (a tiny training on a 60-text
dataset) and every node turns green."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.browser.conftest import Console, shot, sign_in
from tests.browser.seed_dataset import sentiment_dataset
from tests.e2e.conftest import Platform

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TINY = {"epochs": 1, "max_steps": 2, "max_seq_length": 16, "batch_size": 16}  # as the pipeline-runs jobs test


def open_in_project(page: Any, p: Platform, name: str, path: str) -> str:
    with p.http() as http:
        pid = str(http.post("/projects", json={"name": name}).json()["project_id"])
    sign_in(page, p.token)
    # named in the URL: a key set in sessionStorage here could be overwritten by the sign-in
    # page's own first /projects load when it answers late (seen on CI)
    page.goto(f"{path}?project={pid}")
    return pid


def drop(page: Any, kind: str, x: int, y: int) -> None:
    """Drag a kind from the palette onto the canvas at (x, y) of the canvas (HTML5 drag and drop)."""
    page.get_by_test_id(f"palette-{kind}").drag_to(page.get_by_test_id("canvas"), target_position={"x": x, "y": y})
    page.get_by_test_id(f"node-{kind}").wait_for()


def connect(page: Any, src: str, dst: str) -> None:
    page.get_by_test_id(src).drag_to(page.get_by_test_id(dst))


def has(page: Any, selector: str, n: int) -> None:
    """Exactly ``n`` of ``selector`` once the page has drawn them (edges follow measured nodes)."""
    if n:
        page.locator(selector).nth(n - 1).wait_for()
    assert page.locator(selector).count() == n


def select(page: Any, node: str) -> None:
    page.get_by_test_id(f"node-{node}").locator(".port-node-head").click()
    page.get_by_test_id("params-panel").get_by_text(node, exact=True).wait_for()


def test_build_a_four_node_pipeline_by_drag_and_drop_and_save_versions(
    page: Any, ui_platform: Platform, console: Console
) -> None:
    console.expect(r"status of 422")  # the save without a required parameter: the server's 422, shown on the node
    pid = open_in_project(page, ui_platform, "流水线实验", "/ui/pipelines/new")
    dataset_id = sentiment_dataset(ui_platform, pid)  # 60 labelled texts, uploaded (no job)
    page.get_by_test_id("palette-train").wait_for()
    # Given four kinds dragged from the palette onto the canvas
    drop(page, "dataset", 40, 40)
    drop(page, "config", 40, 200)
    drop(page, "choose_model", 40, 360)
    drop(page, "train", 420, 180)
    has(page, ".react-flow__node", 4)
    # And their parameters set in the side panel
    select(page, "config")
    page.fill("#param-config-template", "bert-tiny")
    page.fill("#param-config-overrides", json.dumps({"training": TINY}))  # a tiny training (2 steps)
    select(page, "choose_model")
    page.fill("#param-choose_model-template", "bert-tiny")
    # When a dataset output is dropped on the config input: refused, with the reason
    connect(page, "out-dataset-dataset", "in-train-config")
    refused = page.get_by_test_id("refused")
    refused.wait_for()
    assert "dataset" in refused.inner_text() and "config" in refused.inner_text()
    has(page, ".react-flow__edge", 0)
    shot(page, "40-pipeline-refused")
    # And matching ports connect
    connect(page, "out-dataset-dataset", "in-train-dataset")
    connect(page, "out-config-config", "in-train-config")
    connect(page, "out-choose_model-model", "in-train-model")
    has(page, ".react-flow__edge", 3)
    # Then saving without the dataset's required parameter shows the server's violation on that node
    page.fill("#pipeline-name", "情感流水线")
    page.get_by_role("button", name="创建", exact=True).click()
    errors = page.get_by_test_id("errors-dataset")
    errors.wait_for()
    assert "params.dataset_id" in errors.inner_text()
    shot(page, "41-pipeline-invalid")
    # When it is set the pipeline saves as version 1
    select(page, "dataset")
    page.fill("#param-dataset-dataset_id", dataset_id)
    page.get_by_role("button", name="创建", exact=True).click()
    page.get_by_role("heading", name="情感流水线 v1").wait_for()
    has(page, ".react-flow__node", 4)
    has(page, ".react-flow__edge", 3)
    # And a changed parameter saves as version 2, in the history, diffed against version 1
    select(page, "train")
    page.fill("#param-train-max_epochs", "2")
    page.get_by_role("button", name="保存为新版本").click()
    page.get_by_test_id("saved").filter(has_text="2").wait_for()
    page.get_by_role("heading", name="情感流水线 v2").wait_for()
    has(page, "[data-testid=history] tbody tr", 2)
    page.get_by_role("button", name="比较").click()
    diff = page.get_by_test_id("diff")
    diff.wait_for()
    assert "nodes.train.params.max_epochs" in diff.inner_text()
    shot(page, "42-pipeline-saved-diff")
    # And a run of version 2 is started and watched: the training really runs (a tiny job) and
    # every node turns green on the graph, the run succeeded
    page.get_by_role("button", name="运行版本 2").click()
    run = page.get_by_test_id("pipeline-run")
    run.locator(".badge-succeeded, .badge-failed").first.wait_for(timeout=120_000)  # a loaded machine
    assert run.locator(".badge-succeeded").count() == 1, run.inner_text()
    for node in ("dataset", "config", "choose_model", "train"):
        page.get_by_test_id(f"node-{node}").locator(".badge-recorded").wait_for()
    shot(page, "44-pipeline-run")
    # And the list shows it
    page.get_by_role("navigation").get_by_role("link", name="流水线").click()
    page.get_by_role("link", name="情感流水线").wait_for()
    shot(page, "43-pipelines")
