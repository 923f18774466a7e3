"""The release center in headless Chromium: a model's deployable version (the tiny ONNX package),
an approval requested and an alias moved, the version deployed for real (a serving process of
``jobs/serve.py``), the traffic split drawn, a prediction answered, metrics sampled and charted."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import shot, sign_in
from tests.browser.seed_release import deployable_version
from tests.e2e.conftest import Platform

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_release_center_versions_approval_deploy_and_predict(page: Any, ui_platform: Platform, tmp_path: Path) -> None:
    with ui_platform.http() as http:
        pid = str(http.post("/projects", json={"name": "发布实验"}).json()["project_id"])
    model_id, version_id = deployable_version(ui_platform, pid, tmp_path, "情感服务模型")
    sign_in(page, ui_platform.token)
    # Given the release center: the project's model, and its version (the project named in the
    # URL: a key set in sessionStorage could be overwritten by the sign-in page's late first load)
    page.goto(f"/ui/releases?project={pid}")
    page.get_by_role("link", name="情感服务模型").click()
    detail = page.get_by_test_id("version-detail")
    detail.get_by_text(version_id).wait_for()
    assert page.get_by_test_id("versions").locator("tbody tr").count() == 1
    # When an approval is requested and the staging alias pointed at it
    page.get_by_role("button", name="申请审批").click()
    detail.locator("table tr", has_text="production").wait_for()
    page.get_by_role("button", name="指向这个版本").click()
    page.get_by_test_id("aliases").get_by_text("staging").wait_for()
    shot(page, "50-release-versions")
    deployment_id = ""
    try:
        # And the version is deployed: a real serving slot, all traffic on it
        page.get_by_role("button", name="部署这个版本").click()
        page.wait_for_url("**/ui/deployments/*")
        deployment_id = page.url.rsplit("/", 1)[-1]
        page.get_by_test_id("traffic").filter(has_text="100%").wait_for(timeout=60_000)
        # Then a prediction comes back with labels and scores
        page.fill("#predict-texts", "这部电影很好看\n服务太差了")
        page.get_by_role("button", name="预测", exact=True).click()
        rows = page.get_by_test_id("predictions").locator("tbody tr")
        rows.first.wait_for()
        assert rows.count() == 2
        assert rows.first.locator("td").nth(1).inner_text().strip() != ""
        # And a metrics sample is charted
        page.get_by_role("button", name="立即采样").click()
        page.locator("[data-testid=chart][data-ready=true]").first.wait_for(timeout=30_000)
        shot(page, "51-release-deployment")
    finally:
        if deployment_id:
            with ui_platform.http() as http:
                http.post(f"/deployments/{deployment_id}/stop", json={"reason": "test over"})
