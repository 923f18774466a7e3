"""The studies pages in headless Chromium, over studies seeded straight into the log
(``seed_study``: the study aggregate's own commands, no training):

- a FINISHED two-objective study: listed, opened, its trial table, best trial with links to the
  best model and config, and every plot drawn with its data points (history with best so far,
  intermediate values, parallel coordinates, importance, slice, contour, Pareto front);
- a RUNNING study whose trials end while the page is open: the plots are read again with
  ``?after=<finished leading trials>`` and the merged history holds every point."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import shot, sign_in
from tests.browser.seed_study import SeededStudy
from tests.e2e.conftest import Platform

pytestmark = [pytest.mark.browser]

PLOTS = ["history", "intermediate", "parallel", "importance", "slice", "contour", "pareto"]


def drawn(page: Any, name: str, points: int | None = None) -> Any:
    """The plot's figure once plotly has drawn it (with that many data points)."""
    having = f"[data-points='{points}']" if points is not None else ""
    fig = page.locator(f"[data-testid=plot-{name}][data-ready=true]{having}")
    fig.wait_for(timeout=30_000)  # the first plot waits for the plotly chunk
    return fig


def test_a_finished_study_is_listed_and_every_plot_is_drawn_with_its_points(page: Any, ui_platform: Platform) -> None:
    with ui_platform.http() as http:
        pid = str(http.post("/projects", json={"name": "搜索实验"}).json()["project_id"])
    study = SeededStudy(ui_platform, pid, "情感分类搜索", objectives=2)
    try:
        study.more(12)
        study.finish()
    finally:
        study.close()
    sign_in(page, ui_platform.token)
    # Given the project's studies: the finished one is listed
    page.goto(f"/ui/studies?project={pid}")
    row = page.get_by_test_id("studies").locator("tbody tr", has_text="情感分类搜索")
    row.get_by_test_id("study-status").filter(has_text="已完成").wait_for()
    shot(page, "60-studies")
    # When it is opened
    row.get_by_role("link", name="情感分类搜索").click()
    page.wait_for_url(f"**/ui/studies/{study.study_id}")
    # Then its trials are in the table (9 complete, 2 pruned, 1 failed) and the best trial links
    # to the registered model and config
    trials = page.get_by_test_id("trials").locator("tbody tr")
    trials.nth(11).wait_for()
    assert trials.count() == 12
    assert page.get_by_test_id("trials").locator("tr[data-state=pruned]").count() == 2
    best = page.get_by_test_id("study-best")
    assert best.get_by_role("link", name=study.model_id).get_attribute("href") == f"/ui/models/{study.model_id}"
    assert best.get_by_role("link", name=study.config["config_id"]).count() == 1
    # And every plot is drawn with data points (SVG markers for the scatter plots)
    points = {name: int(drawn(page, name).get_attribute("data-points")) for name in PLOTS}
    assert points["history"] == 9 and points["slice"] == 9 and points["contour"] == 9, points
    assert points["parallel"] == 9 and points["importance"] == 3, points
    assert points["intermediate"] == 12 * 3, points  # every trial reported three steps
    assert points["pareto"] == 9, points
    assert drawn(page, "history").locator(".scatterlayer .point").count() >= 9
    assert drawn(page, "pareto").locator(".scatterlayer .point").count() == 9
    shot(page, "61-study-finished")
    # And the controls say it has ended: nothing to cancel
    assert page.get_by_role("button", name="取消搜索").is_disabled()


def test_a_running_study_reads_its_plots_incrementally_until_it_ends(page: Any, ui_platform: Platform) -> None:
    with ui_platform.http() as http:
        pid = str(http.post("/projects", json={"name": "增量搜索"}).json()["project_id"])
    study = SeededStudy(ui_platform, pid, "incremental")
    try:
        sign_in(page, ui_platform.token)
        page.goto(f"/ui/studies/{study.study_id}?project={pid}")
        page.get_by_test_id("study-status").filter(has_text="运行中").wait_for()
        # Given no trial yet: each plot says why it is empty
        page.locator("[data-testid=plot-history][data-empty=true]", has_text="还没有完成的试验").wait_for()
        # When trials 0-3 end while 4 and 5 run, the page draws them
        study.more(6, leave_running=2)
        drawn(page, "history", 4)
        plots = page.get_by_test_id("study-plots")
        assert plots.get_attribute("data-after") == "4"  # the next read asks only for trials >= 4
        # And while it runs, a budget below the trials asked is refused on the page, and the
        # parallelism changed (read by the study at its next round)
        page.fill("#study-max_trials", "3")
        page.get_by_role("button", name="保存设置（下一轮生效）").click()
        page.get_by_text("已经采样了 6 个试验，预算不能更小").wait_for()
        page.fill("#study-max_trials", "12")
        page.fill("#study-parallelism", "2")
        page.get_by_role("button", name="保存设置（下一轮生效）").click()
        page.get_by_test_id("parallelism").filter(has_text="2").wait_for()
        # When the running trials end, a new round runs and the study finishes
        study.end_running([4, 5])
        study.more(3)
        study.finish()
    finally:
        study.close()
    # Then the page, polling, shows the finished study with every completed trial's point
    page.get_by_test_id("study-status").filter(has_text="已完成").wait_for()
    # trials 0-8: 4 and 6 did not complete (pruned, failed)
    drawn(page, "history", 7)
    assert int(plots.get_attribute("data-reads")) >= 2
    assert plots.get_attribute("data-after") == "9"  # every trial has ended: nothing left to re-read
    shot(page, "62-study-incremental")
