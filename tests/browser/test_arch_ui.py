"""The architecture editor in headless Chromium: a bert-tiny config's heads, layers and kept
parent layers edited with the schema's rules checked as you type, the per-layer view of the child
(which parent layer each layer starts from), the child derived and its architecture test asked
for (a job request: the page follows the job), then the test cancelled from the page (a real
test runs torch for ~10-40 s: the report itself is covered by tests/integration/test_arch_test.py)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import shot, sign_in
from tests.e2e.conftest import Platform

pytestmark = [pytest.mark.browser]


def test_the_layer_editor_checks_an_edit_derives_the_child_and_follows_its_test(
    page: Any, ui_platform: Platform
) -> None:
    with ui_platform.http() as http:
        pid = str(http.post("/projects", json={"name": "架构实验"}).json()["project_id"])
        cfg = http.post(f"/projects/{pid}/configs", json={"template": "bert-tiny", "name": "tiny-parent"}).json()
    sign_in(page, ui_platform.token)
    # Given the editor of a 2-layer, 64-wide, 2-head config
    page.goto(f"/ui/configs/{cfg['config_id']}/arch?project={pid}")
    heads = page.locator("#arch-num_heads")
    assert heads.input_value() == "2"
    derive = page.get_by_role("button", name="生成子配置并测试")
    assert derive.is_disabled()  # nothing changed yet
    # When the heads do not divide the hidden size, the field says so and nothing can be derived
    heads.fill("3")
    page.get_by_text("隐藏维度 64 必须能被头数 3 整除").wait_for()
    assert derive.is_disabled()
    heads.fill("4")
    # And parent layer 0 is dropped and the child made 3 layers deep: layer 0 starts from parent
    # layer 1, the two above it are new
    page.get_by_test_id("keep-layers").get_by_label("层 0").uncheck()
    page.locator("#arch-num_layers").fill("3")
    rows = page.get_by_test_id("child-layers").locator("tbody tr")
    rows.nth(2).wait_for()
    assert [rows.nth(i).get_attribute("data-from") for i in range(rows.count())] == ["1", "new", "new"]
    shot(page, "70-arch-editor")
    # Then the child is derived and its architecture test asked for: the page follows the job
    page.fill("#arch-child-name", "tiny-child")
    derive.click()
    page.wait_for_url("**/arch?job=archtest-*")
    child_id = page.url.split("/configs/")[1].split("/")[0]
    panel = page.get_by_test_id("arch-test")
    panel.get_by_text("archtest-").first.wait_for()
    assert page.get_by_test_id("arch-derived").get_by_role("link", name=cfg["config_id"]).count() == 1
    assert page.get_by_test_id("layer-map").inner_text().count("←") == 3
    with ui_platform.http() as http:
        child = http.get(f"/configs/{child_id}").json()
    arch = child["values"]["architecture"]
    assert (arch["num_attention_heads"], arch["num_hidden_layers"]) == (4, 3)
    assert child["derived_from"]["layer_map"] == {"0": 1, "1": None, "2": None}
    # And cancelling it from the page stops it
    panel.get_by_role("button", name="取消").click()
    page.locator("[data-testid=arch-test][data-state=Stopped]").wait_for(timeout=30_000)
    shot(page, "71-arch-test-cancelled")
