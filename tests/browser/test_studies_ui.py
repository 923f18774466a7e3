"""The studies pages in headless Chromium, over two studies seeded straight into the log
(``seed_study``: the study aggregate's own commands, no training), in one page session (the
plotly chunk loads once):

- a FINISHED two-objective study: listed, opened, its trial table, best trial with links to the
  best model and config, and every plot drawn with its data points (history with best so far,
  intermediate values, parallel coordinates, importance, slice, contour, Pareto front);
- a RUNNING study, opened with no trial yet (each plot says why it is empty); its trials end
  while the page is open: the plots are read again with ``?after=<finished leading trials>`` and
  the merged history holds every point; on the way a too-small budget is refused, the
  parallelism changed and a cancel asked for."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import shot, sign_in
from tests.browser.seed_study import SeededStudy
from tests.e2e.conftest import Platform

pytestmark = [pytest.mark.browser]

PLOTS = ["history", "intermediate", "parallel", "importance", "slice", "contour", "pareto"]
SAVE = "保存设置（下一轮生效）"


def drawn(page: Any, name: str, points: int | None = None) -> Any:
    """The plot's figure once plotly has drawn it (with that many data points)."""
    having = f"[data-points='{points}']" if points is not None else ""
    fig = page.locator(f"[data-testid=plot-{name}][data-ready=true]{having}")
    fig.wait_for(timeout=30_000)  # the first plot waits for the plotly chunk
    return fig


def test_a_finished_study_draws_every_plot_and_a_running_one_is_read_incrementally(
    page: Any, ui_platform: Platform
) -> None:
    with ui_platform.http() as http:
        pid = str(http.post("/projects", json={"name": "搜索实验"}).json()["project_id"])
    finished = SeededStudy(ui_platform, pid, "情感分类搜索", objectives=2)
    live = SeededStudy(ui_platform, pid, "incremental")
    try:
        finished.more(12)
        finished.finish()
    finally:
        finished.close()
    try:
        sign_in(page, ui_platform.token)
        # Given the project's studies: the finished one and the running one are listed
        page.goto(f"/ui/studies?project={pid}")
        studies = page.get_by_test_id("studies")
        row = studies.locator("tbody tr", has_text="情感分类搜索")
        row.get_by_test_id("study-status").filter(has_text="已完成").wait_for()
        studies.locator("tbody tr", has_text="incremental").get_by_test_id("study-status").filter(
            has_text="运行中"
        ).wait_for()
        shot(page, "60-studies")
        # When the finished one is opened
        row.get_by_role("link", name="情感分类搜索").click()
        page.wait_for_url(f"**/ui/studies/{finished.study_id}")
        # Then its trials are in the table (9 complete, 2 pruned, 1 failed) and the best trial
        # links to the registered model and config
        trials = page.get_by_test_id("trials").locator("tbody tr")
        trials.nth(11).wait_for()
        assert trials.count() == 12
        assert page.get_by_test_id("trials").locator("tr[data-state=pruned]").count() == 2
        best = page.get_by_test_id("study-best")
        assert (
            best.get_by_role("link", name=finished.model_id).get_attribute("href") == f"/ui/models/{finished.model_id}"
        )
        assert best.get_by_role("link", name=finished.config["config_id"]).count() == 1
        # And every plot is drawn with data points (SVG markers for the scatter plots)
        points = {name: int(drawn(page, name).get_attribute("data-points")) for name in PLOTS}
        assert points == {"history": 9, "intermediate": 36, "parallel": 9, "importance": 3, "slice": 9,
                          "contour": 9, "pareto": 9}, points  # fmt: skip
        assert drawn(page, "history").locator(".scatterlayer .point").count() >= 9
        assert drawn(page, "pareto").locator(".scatterlayer .point").count() == 9
        assert page.get_by_role("button", name="取消搜索").is_disabled()  # it has ended
        shot(page, "61-study-finished")

        # Given the running study, opened from the list (client-side: plotly stays loaded), with
        # no trial yet: each plot says why it is empty
        page.get_by_role("main").get_by_role("link", name="超参数搜索").click()
        page.get_by_test_id("studies").get_by_role("link", name="incremental").click()
        page.get_by_test_id("study-status").filter(has_text="运行中").wait_for()
        page.locator("[data-testid=plot-history][data-empty=true]", has_text="还没有完成的试验").wait_for()
        # When trials 0-3 end while 4 and 5 run, the page draws them
        live.more(6, leave_running=2)
        drawn(page, "history", 4)
        plots = page.get_by_test_id("study-plots")
        assert plots.get_attribute("data-after") == "4"  # the next read asks only for trials >= 4
        # And a budget below the trials asked is refused on the page, the parallelism changed
        # (read by the study at its next round) and a cancel asked for
        page.fill("#study-max_trials", "3")
        page.get_by_role("button", name=SAVE).click()
        page.get_by_text("已经采样了 6 个试验，预算不能更小").wait_for()
        page.fill("#study-max_trials", "12")
        page.fill("#study-parallelism", "2")
        page.get_by_role("button", name=SAVE).click()
        page.get_by_test_id("parallelism").filter(has_text="2").wait_for()
        page.get_by_role("button", name="取消搜索").click()
        page.get_by_test_id("study-status").filter(has_text="取消中").wait_for()
        # And the running trials end, one more round runs and the study finishes
        live.end_running([4, 5])
        live.more(3)
        live.finish()
    finally:
        live.close()
    # Then the page, polling, shows the finished study with every completed trial's point:
    # trials 0-8 but 4 (pruned) and 6 (failed)
    page.get_by_test_id("study-status").filter(has_text="已完成").wait_for()
    drawn(page, "history", 7)
    assert int(plots.get_attribute("data-reads")) >= 2
    assert plots.get_attribute("data-after") == "9"  # every trial has ended: nothing left to re-read
    shot(page, "62-study-incremental")
