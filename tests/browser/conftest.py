"""The browser tier: Playwright (PyPI) driving Debian's Chromium (``/usr/bin/chromium``, no browser
download) headless against ``tlm serve`` on a free port, serving the built ``web/dist``.

One server and one browser per session (the tier stays fast); a fresh browser context per test
(its own sessionStorage, so each test signs in). Every test fails on a console error or an
uncaught page error unless it declares the ones it provokes (``console.expect(...)``).
Screenshots go to ``tests/browser/.screenshots/`` (``TLM_SCREENSHOT_DIR`` to change; git ignores it).

Without Chromium or a built bundle the tier is skipped with the reason, unless
``TLM_BROWSER_REQUIRED=1`` (``make test`` sets it): then it fails.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Platform

ROOT = Path(__file__).resolve().parents[2]
DIST = Path(os.environ.get("TLM_WEB_DIST", ROOT / "web" / "dist"))
CHROMIUM = os.environ.get("TLM_CHROMIUM", "/usr/bin/chromium")
SHOTS = Path(os.environ.get("TLM_SCREENSHOT_DIR", Path(__file__).parent / ".screenshots"))
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run", "--mute-audio"]


def _missing() -> str | None:
    if not Path(CHROMIUM).exists():
        return f"no Chromium at {CHROMIUM} (apt-get install chromium; make installs it)"
    if not (DIST / "index.html").exists():
        return f"the UI is not built ({DIST}/index.html missing: make install builds it)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -e '.[dev]')"
    return None


@pytest.fixture(scope="session")
def ui_platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    reason = _missing()
    if reason:
        if os.environ.get("TLM_BROWSER_REQUIRED") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    tmp = tmp_path_factory.mktemp("browser")
    env = {
        **os.environ,
        "TLM_DATA_DIR": str(tmp / "data"),
        "TLM_JIEBA_CACHE_DIR": str(tmp / "jieba"),
        "TLM_WEB_DIST": str(DIST),
        "TLM_MIN_PART_BYTES": str(64 * 1024),  # small parts: the resume test splits a small file
        "PYTHONUNBUFFERED": "1",
    }
    p = Platform(tmp / "data", env)
    p.start()
    yield p
    p.stop()


@pytest.fixture(scope="session")
def browser(ui_platform: Platform) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


class Console:
    """Console errors and page errors of one test's pages; ``expect`` whitelists a pattern."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.allowed: list[re.Pattern[str]] = []

    def expect(self, pattern: str) -> None:
        self.allowed.append(re.compile(pattern))

    def unexpected(self) -> list[str]:
        return [e for e in self.errors if not any(a.search(e) for a in self.allowed)]


@pytest.fixture
def console() -> Console:
    return Console()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    if call.when == "call":
        item.rep_call = outcome.get_result()  # type: ignore[attr-defined]


@pytest.fixture
def page(browser: Any, ui_platform: Platform, console: Console, request: pytest.FixtureRequest) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 800}, base_url=ui_platform.url, locale="zh-CN")
    context.set_default_timeout(15_000)
    pg = context.new_page()
    pg.on("console", lambda m: console.errors.append(f"console.{m.type}: {m.text}") if m.type == "error" else None)
    pg.on("pageerror", lambda e: console.errors.append(f"pageerror: {e}"))
    yield pg
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed:  # what the page showed, and what it logged, when the test failed
        print(f"page at failure: {pg.url}\nconsole: {console.errors}")
        shot(pg, f"FAILED-{request.node.name}")
    context.close()
    assert console.unexpected() == [], "console errors on the page"


def shot(page: Any, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")
    return path


def sign_in(page: Any, token: str) -> None:
    page.goto("/")
    page.fill("#token", token)
    page.get_by_role("button", name="登录").click()
    page.get_by_test_id("sign-out").wait_for()
