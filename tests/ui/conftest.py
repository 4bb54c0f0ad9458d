"""Browser-test fixtures: a fake Agent Zero with a seeded ledger, the UI test server, and
headless Debian Chromium driven by Playwright (no browser download).

The tests skip when Playwright, /usr/bin/chromium or the fetched Alpine.js is missing,
unless AGENT_ROUTING_UI_TESTS=required (set by .ci/run), where a missing piece fails.
Screenshots go to tests/ui/artifacts/ (git-ignored).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from fakehost import FakeHost, make_host

HERE = Path(__file__).resolve().parent
ARTIFACTS = HERE / "artifacts"
CHROMIUM = os.environ.get("AGENT_ROUTING_CHROMIUM", "/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
CHAT = "chat0001"
BUDGETS = [
    {"scope": "conversation", "limit_usd": 1.0, "enforcement": "warn"},
    {"scope": "daily", "limit_usd": 5.0, "enforcement": "downgrade"},
    {"scope": "monthly", "limit_usd": 100.0, "enforcement": "block"},
]


def _missing() -> str | None:
    from server import ALPINE

    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -e '.[test]')"
    if not Path(CHROMIUM).is_file():
        return f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    if not ALPINE.is_file():
        return "Alpine.js not fetched: run tests/ui/fetch_alpine.sh"
    return None


@pytest.fixture
def chromium() -> Iterator[Any]:
    """Playwright's Chromium driver, pointed at the system browser. Per test: the sync API
    runs an event loop in this thread while it is open, which async tests must not meet."""
    problem = _missing()
    if problem:
        if os.environ.get("AGENT_ROUTING_UI_TESTS") == "required":
            pytest.fail(problem)
        pytest.skip(problem)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        yield playwright.chromium


@pytest.fixture
def page(chromium: Any, tmp_path: Path) -> Iterator[Any]:
    """A fresh browser profile and one page; console errors fail the test."""
    context = chromium.launch_persistent_context(
        str(tmp_path / "profile"),
        executable_path=CHROMIUM,
        headless=True,
        args=FLAGS,
        viewport={"width": 1200, "height": 900},
        timezone_id="UTC",  # the tests compute the expected reports in UTC
    )
    errors: list[str] = []
    page = context.new_page()
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.set_default_timeout(20_000)
    page.errors = errors  # type: ignore[attr-defined]
    try:
        yield page
    finally:
        context.close()


def screenshot(page: Any, name: str, selector: str | None = None) -> Path:
    """Save a screenshot artefact (whole page or one element) under tests/ui/artifacts/."""
    ARTIFACTS.mkdir(exist_ok=True)
    target = ARTIFACTS / f"{name}.png"
    (page.locator(selector) if selector else page).screenshot(path=str(target))
    return target


@pytest.fixture
def ui_host(tmp_path: Path, isolated_home: Path) -> Iterator[FakeHost]:
    """The fake Agent Zero with the plugin, budgets configured and a seeded ledger."""
    from seed import seed_ledger

    host = make_host(tmp_path)
    try:
        host.configure({"budgets": BUDGETS})
        # in a thread: Playwright's sync API keeps an event loop running in this one
        with ThreadPoolExecutor(1) as pool:
            job = pool.submit(seed_ledger, isolated_home / "ledger.db", calls=2000, chats=40)
            host.seed_now = job.result()  # type: ignore[attr-defined]
        yield host
    finally:
        host.close()


@pytest.fixture
def ui_server(ui_host: FakeHost) -> Iterator[Any]:
    from server import UiServer

    server = UiServer(ui_host)
    try:
        yield server
    finally:
        server.close()


def copy_screenshot_to_docs(source: Path, name: str) -> None:
    """With AGENT_ROUTING_DOCS_IMAGES=1, also write the PNG to docs/images/ (README images)."""
    if os.environ.get("AGENT_ROUTING_DOCS_IMAGES") == "1":
        target = HERE.parent.parent / "docs" / "images" / f"{name}.png"
        target.parent.mkdir(exist_ok=True)
        shutil.copyfile(source, target)
