"""The browser UI end to end in headless Chromium against `tlm serve`: sign in and out, a project,
a model uploaded with a progress bar and an interrupted upload resumed, found again by pinyin and
initials, a run's step graph, the language switched to English and back, and every page rendered
(screenshots, no console errors, a narrow window)."""

from __future__ import annotations

import base64
import hashlib
import os
import re
import zlib
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import Console, shot, sign_in
from tests.browser.seed import seed_run
from tests.e2e.conftest import Platform

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def blob(name: str, data: bytes) -> dict[str, Any]:
    return {"name": name, "mimeType": "application/octet-stream", "buffer": data}


def crc_b64(data: bytes) -> str:
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


def go(page: Any, path: str) -> None:
    """Client-side navigation (as a link does): the signed-in tab keeps its session."""
    page.evaluate("p => { history.pushState(null, '', p); dispatchEvent(new PopStateEvent('popstate')); }", path)


def api_project(p: Platform, name: str) -> str:
    with p.http() as http:
        return str(http.post("/projects", json={"name": name}).json()["project_id"])


def test_sign_in_rejects_a_bad_token_then_signs_in_and_out(page: Any, ui_platform: Platform, console: Console) -> None:
    console.expect(r"status of 401")  # the refused token: Chromium logs the failed /me request
    # Given the UI with no session
    page.goto("/")
    page.get_by_role("button", name="登录").click()
    assert page.get_by_role("alert").inner_text() == "请输入令牌"
    shot(page, "00-sign-in")
    # When a wrong token is tried, it is refused and nothing is kept
    page.fill("#token", "tlm_wrong")
    page.get_by_role("button", name="登录").click()
    page.get_by_role("alert").filter(has_text="401").or_(page.get_by_role("alert")).wait_for()
    assert page.evaluate("sessionStorage.getItem('tlm.token')") is None
    # Then the local token signs in: the header names the user, the token sits in sessionStorage only
    sign_in(page, ui_platform.token)
    page.get_by_test_id("user").filter(has_text="local").wait_for()  # "…" until /me answers
    assert page.get_by_test_id("user").inner_text() == "local"
    assert page.evaluate("sessionStorage.getItem('tlm.token')") == ui_platform.token
    assert page.evaluate("localStorage.getItem('tlm.token')") is None
    assert page.url.endswith("/ui/projects")
    # And signing out forgets it
    page.get_by_test_id("sign-out").click()
    page.locator("#token").wait_for()
    assert page.evaluate("sessionStorage.getItem('tlm.token')") is None


def test_project_upload_with_progress_resume_and_pinyin_search(page: Any, ui_platform: Platform, tmp_path) -> None:
    sign_in(page, ui_platform.token)
    # Given a project created in the UI
    page.fill("#project-name", "情感实验室")
    page.get_by_role("button", name="创建", exact=True).click()
    page.get_by_role("heading", name="情感实验室").wait_for()
    page.get_by_text("local").first.wait_for()
    shot(page, "02-project")
    # When a model is registered and a file uploaded
    page.get_by_role("navigation").get_by_role("link", name="模型库").click()
    page.fill("#model-name", "情感分类模型")
    page.fill("#model-tags", "中文 情感")
    page.get_by_role("button", name="登记").click()
    page.get_by_role("heading", name="情感分类模型").wait_for()
    weights = os.urandom(3 * 1024 * 1024 + 17)
    page.set_input_files("#upload-file", files=[blob("model.safetensors", weights)])
    page.get_by_role("button", name="开始上传").click()
    # Then the progress bar shows and fills, and the verified file is listed
    bar = page.get_by_test_id("progress")
    bar.wait_for()
    page.get_by_role("status").filter(has_text="上传完成").wait_for()
    assert bar.get_attribute("value") == bar.get_attribute("max") == str(len(weights))
    page.get_by_test_id("files").get_by_text("model.safetensors").wait_for()
    model_id = page.url.rsplit("/", 1)[1]
    # Given an upload interrupted after two of its four parts (started outside the UI)
    data = os.urandom(4 * 64 * 1024)
    part = 64 * 1024
    crcs = [crc_b64(data[i : i + part]) for i in range(0, len(data), part)]
    body = {"path": "vocab.bin", "size": len(data), "sha256": hashlib.sha256(data).hexdigest(), "part_size": part}
    with ui_platform.http() as http:
        up = http.post(f"/models/{model_id}/uploads", json={**body, "part_crc32": crcs}).json()
        for t in up["parts"][:2]:
            n = t["part_number"]
            r = http.request(t["method"], t["url"], content=data[(n - 1) * part : n * part], headers=t["headers"])
            assert r.status_code == 200, r.text
    page.reload()
    page.get_by_role("heading", name="未完成的上传").wait_for()
    # When the same file is chosen again in the UI, only the missing parts are sent
    page.set_input_files("#upload-file", files=[blob("vocab.bin", data)])
    page.get_by_role("button", name="开始上传").click()
    page.get_by_role("status").filter(has_text="已续传完成").wait_for()
    assert "续传" in page.locator(".progress-text").inner_text()
    page.get_by_test_id("files").get_by_text("vocab.bin").wait_for()
    shot(page, "04-model")
    with ui_platform.http() as http:
        files = {f["path"]: f for f in http.get(f"/models/{model_id}").json()["files"]}
    assert files["vocab.bin"]["sha256"] == hashlib.sha256(data).hexdigest()
    assert files["model.safetensors"]["size"] == len(weights)
    # And the model is found by pinyin and by initials, and a miss says so
    page.get_by_role("navigation").get_by_role("link", name="模型库").click()
    for q in ("qinggan", "qgfl"):
        page.fill("#library-q", q)
        page.get_by_test_id("model-table").get_by_role("link", name="情感分类模型").wait_for()
    shot(page, "03-library-pinyin")
    page.fill("#library-q", "zzzzqqqq")
    page.get_by_text("没有找到匹配的模型").wait_for()


def test_a_run_shows_its_step_graph_with_status(page: Any, ui_platform: Platform) -> None:
    # Given a finished run whose Train step failed once and was retried
    pid = api_project(ui_platform, "运行图")
    seed_run(ui_platform.data_dir, "ui-run-1", pid)
    # When its page is opened (signing in on the way)
    page.goto("/ui/runs/ui-run-1")
    sign_in_here(page, ui_platform.token)
    # Then the graph has one node per step, each with its status, and the retry shows
    nodes = page.locator(".react-flow__node")
    nodes.first.wait_for()
    assert nodes.count() == 3
    assert page.locator(".react-flow__edge").count() == 2
    train = page.locator(".react-flow__node", has_text="Train")
    assert "step-succeeded" in train.locator(".step-node").get_attribute("class")
    assert "×2" in train.inner_text()
    # And choosing a step (click on the graph, or a step button by keyboard) shows its attempts
    page.locator(".react-flow__node", has_text="Prepare").click()
    page.get_by_role("heading", name="步骤: Prepare").wait_for()
    page.get_by_role("button", name=re.compile("^Train")).focus()
    page.keyboard.press("Enter")
    page.get_by_role("heading", name="步骤: Train").wait_for()
    page.get_by_text("TLM.JobFailed: out of memory").wait_for()
    shot(page, "11-run-graph")
    # And the project's run list has it
    page.get_by_test_id("project-picker").select_option(pid)
    page.get_by_role("navigation").get_by_role("link", name="运行").click()
    page.get_by_test_id("runs").get_by_text("ui-run-1").wait_for()
    shot(page, "10-runs")


def sign_in_here(page: Any, token: str) -> None:
    """Sign in on whatever page asked for it (the app stays on that URL)."""
    page.fill("#token", token)
    page.get_by_role("button", name="登录").click()
    page.get_by_test_id("sign-out").wait_for()


def test_switch_to_english_and_back(page: Any, ui_platform: Platform) -> None:
    sign_in(page, ui_platform.token)
    nav = page.get_by_role("navigation")
    nav.get_by_role("link", name="模型库").wait_for()
    assert page.evaluate("document.documentElement.lang") == "zh-CN"
    page.get_by_test_id("language").select_option("en")
    nav.get_by_role("link", name="Library").wait_for()
    assert page.evaluate("document.documentElement.lang") == "en"
    assert page.get_by_test_id("sign-out").inner_text() == "Sign out"
    shot(page, "20-english")
    # the choice survives a reload (and the session too: same tab)
    page.reload()
    nav.get_by_role("link", name="Library").wait_for()
    page.get_by_test_id("language").select_option("zh-CN")
    nav.get_by_role("link", name="模型库").wait_for()
    assert page.get_by_test_id("sign-out").inner_text() == "退出登录"


def test_every_page_renders_with_no_console_errors(page: Any, ui_platform: Platform) -> None:
    # Given a project with a model, a dataset and a config edited once
    pid = api_project(ui_platform, "页面巡检")
    with ui_platform.http() as http:
        model = http.post(f"/projects/{pid}/models", json={"name": "巡检模型", "family": "bert"}).json()["model_id"]
        ds = http.post(f"/projects/{pid}/datasets", json={"name": "空数据集"}).json()["model_id"]
        cfg = http.post(f"/projects/{pid}/configs", json={"template": "bert-tiny", "name": "tiny"}).json()
        epochs = cfg["values"]["training"]["epochs"]
        edited = http.patch(f"/configs/{cfg['config_id']}", json={"set": {"training.epochs": epochs + 1}})
        assert edited.status_code == 200, edited.text
    page.goto(f"/ui/projects?project={pid}")
    sign_in_here(page, ui_platform.token)
    visits = [
        ("01-projects", "/ui/projects", "h1"),
        ("05-datasets", "/ui/datasets", "#demo-title"),
        ("06-dataset", f"/ui/datasets/{ds}", "[data-testid=validation]"),
        ("07-configs", "/ui/configs", "#new-config"),
        ("09-trainings", "/ui/trainings", "#start-training"),
        ("09-leaderboard", "/ui/leaderboard", "h1"),
        ("04-model-empty", f"/ui/models/{model}", "#upload-title"),
        ("02-project-detail", f"/ui/projects/{pid}", "#members-title"),
    ]
    for name, path, ready in visits:
        go(page, path)
        page.locator(ready).first.wait_for()
        page.wait_for_load_state("networkidle")
        assert page.locator(".error").count() == 0, f"{path}: {page.locator('.error').first.inner_text()}"
        shot(page, name)
    # the dataset without files reports why it is not valid
    go(page, f"/ui/datasets/{ds}")
    page.get_by_test_id("validation").get_by_text("无效").wait_for()
    # A config: typed form with client-side checks, then diff, blame and history tabs
    go(page, f"/ui/configs/{cfg['config_id']}")
    field = page.locator("[id='leaf-training.epochs']")
    field.fill("not a number")
    page.get_by_role("button", name="保存为新版本").click()
    page.get_by_text("请输入整数").wait_for()
    assert field.get_attribute("aria-invalid") == "true"
    shot(page, "08-config-edit")
    for tab, ready in (("对比", "table.diff"), ("追溯", "[data-testid=blame]"), ("历史", "table.history")):
        page.get_by_role("tab", name=tab).click()
        page.locator(ready).wait_for()
    page.get_by_role("tab", name="对比").click()
    page.locator("table.diff").get_by_text("training.epochs").wait_for()
    shot(page, "08-config-diff")
    # exported with the bearer token (a download), imported back as a new config, batch-edited
    with page.expect_download() as download:
        page.get_by_role("button", name="导出 JSON").click()
    exported = Path(download.value.path()).read_text()
    assert '"training"' in exported
    go(page, "/ui/configs")
    page.fill("#import-text", exported)
    page.get_by_role("button", name="导入", exact=True).click()
    page.get_by_role("tab", name="编辑").wait_for()
    go(page, "/ui/configs")
    row = page.locator("tr", has=page.locator(f"a[href='/ui/configs/{cfg['config_id']}']"))
    row.get_by_role("checkbox", name="选择 tiny").check()
    page.fill("#batch-path", "training.epochs")
    page.fill("#batch-value", "3")
    page.get_by_role("button", name="应用").click()
    page.get_by_role("status").filter(has_text="已修改 1 个配置").wait_for()
    shot(page, "07-configs-batch")
    with ui_platform.http() as http:
        after = http.get(f"/configs/{cfg['config_id']}").json()
        listed = http.get(f"/projects/{pid}/configs").json()["items"]
    assert after["values"]["training"]["epochs"] == 3 and after["version"] == 3
    assert len(listed) == 2  # the imported copy
    # A narrow window: the navigation folds behind the menu button
    page.set_viewport_size({"width": 420, "height": 800})
    nav = page.get_by_role("navigation")
    assert not nav.get_by_role("link", name="模型库").is_visible()
    page.get_by_role("button", name="菜单").click()
    nav.get_by_role("link", name="模型库").click()
    page.locator("#library-q").wait_for()
    shot(page, "30-narrow-library")


def test_keyboard_only_sign_in_and_navigation(page: Any, ui_platform: Platform) -> None:
    # Given the sign-in form, focused on the token field
    page.goto("/")
    page.locator("#token:focus").wait_for()  # typing before the form has mounted loses keys
    page.keyboard.type(ui_platform.token)
    page.keyboard.press("Enter")
    page.get_by_test_id("sign-out").wait_for()
    # When the skip link and then the navigation are reached with Tab
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"
    for _ in range(10):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent") == "模型库":
            break
    else:
        raise AssertionError("the library link is not reachable with Tab")
    # Then Enter opens the page, whose search box takes typing
    page.keyboard.press("Enter")
    page.locator("#library-q").focus()
    page.keyboard.type("qg")
    assert page.input_value("#library-q") == "qg"
    assert page.url.endswith("/ui/library")
