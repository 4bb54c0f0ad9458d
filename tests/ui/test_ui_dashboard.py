"""The cost dashboard in a real browser against a seeded ledger: the figures a user sees
are the report functions' figures; chart, breakdowns, budgets, unpriced models, paging."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import copy_screenshot_to_docs, screenshot
from fakehost import FakeHost, make_host

from agent_routing.reports import build_report, prepare_query


def report(by: str, days: int) -> Any:
    """The report the dashboard should show for the last `days` local days (browser zone)."""
    from agent_routing.host._runtime import get_runtime
    from agent_routing.ledger import ledger_for

    until = date.today()
    since = until - timedelta(days=days - 1)

    async def run() -> Any:
        ledger = ledger_for(get_runtime(None).settings.ledger)
        await ledger.open()
        try:
            query = prepare_query(by=by, since=since.isoformat(), until=until.isoformat(), tz="UTC")
            return await build_report(ledger, query)
        finally:
            await ledger.close()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, run()).result()


def money(value: float) -> str:
    """As webui/format.js shows dollars."""
    if abs(value) >= 100:
        return f"${round(value):,}"
    return f"${value:.4f}" if abs(value) < 0.01 else f"${value:.2f}"


def open_dashboard(page: Any, server: Any) -> None:
    page.goto(f"{server.url}/chat.html?ctx=chat0001")
    page.evaluate("openModal('/plugins/agent_routing/webui/dashboard.html')")
    page.get_by_test_id("ar-dashboard").wait_for()
    page.wait_for_function("document.querySelector('[data-testid=ar-chart]') !== null")
    settled(page)


def settled(page: Any) -> None:
    """Wait until no dashboard section is loading."""
    page.locator("[data-testid=ar-dashboard][data-loading=false]").wait_for()


def test_the_dashboard_shows_the_ledgers_figures(
    ui_host: FakeHost, ui_server: Any, page: Any
) -> None:
    """30 days (7 by default): total spend, breakdown rows, top chats, the unpriced model with
    how to price it, budget bars, a bar per day in the chart, 25 latest calls, next page."""
    open_dashboard(page, ui_server)
    page.locator("[data-range='30d']").click()
    settled(page)
    expected = report("model", 30)
    assert page.get_by_test_id("ar-total").inner_text() == money(expected.totals.cost_usd)
    rows = page.locator("[data-testid=ar-breakdown] tbody tr")
    rows.first.wait_for()
    assert rows.count() == len(expected.groups)
    first = rows.first.locator("td").all_inner_texts()
    assert first[0] == expected.groups[0].key
    assert first[1] == money(expected.groups[0].cost_usd)
    top = page.locator("[data-testid=ar-top-chats] tbody tr td").first.inner_text()
    assert top == expected.top_conversations[0].key
    unpriced = page.get_by_test_id("ar-unpriced-models").inner_text()
    assert "ollama/my-local-llama" in unpriced
    assert "under 'prices'" in page.locator(".ar-help").inner_text()
    assert page.get_by_test_id("ar-budget").count() == 3
    bars = page.locator("[data-testid=ar-chart] rect[data-day]")
    assert len(set(bars.evaluate_all("els => els.map(e => e.dataset.day)"))) >= 28
    assert page.locator("[data-testid=ar-calls] tbody tr").count() == 25
    newest = page.locator("[data-testid=ar-calls] tbody tr td").first.inner_text()
    page.get_by_role("button", name="Older").click()
    page.get_by_test_id("ar-page").filter(has_text="page 2").wait_for()
    page.wait_for_function(
        "t => document.querySelector('[data-testid=ar-calls] tbody tr td').textContent <= t",
        arg=newest,
    )
    assert float(page.get_by_test_id("ar-routing-saved").inner_text().lstrip("$")) > 0
    page.get_by_role("button", name="Newer").click()
    page.get_by_test_id("ar-page").filter(has_text="page 1").wait_for()
    image = screenshot(page, "dashboard", ".modal")
    copy_screenshot_to_docs(image, "dashboard")
    assert page.errors == []


def test_range_stack_and_breakdown_switches(ui_host: FakeHost, ui_server: Any, page: Any) -> None:
    """The default 7 days shows the 7-day total; stacking by kind redraws the chart with call kinds;
    the tool breakdown lists the tools; the chat breakdown the top chats and one row for the
    others."""
    open_dashboard(page, ui_server)
    expected = money(report("model", 7).totals.cost_usd)
    page.get_by_test_id("ar-total").filter(has_text=expected).wait_for()
    page.get_by_role("button", name="by kind").click()
    page.wait_for_function(
        "document.querySelector('[data-testid=ar-chart] rect[data-series=chat]') !== null"
    )
    page.get_by_role("button", name="tool", exact=True).click()
    page.locator("[data-testid=ar-breakdown] td", has_text="code_execution_tool").wait_for()
    chats = report("conversation", 7)
    assert chats.other is not None
    page.get_by_role("button", name="chat", exact=True).click()
    page.locator("[data-testid=ar-breakdown] td", has_text=chats.other.key).wait_for()
    rows = page.locator("[data-testid=ar-breakdown] tbody tr")
    assert rows.count() == len(chats.groups) + 1


def test_a_bad_custom_range_is_a_toast_naming_the_field(
    ui_host: FakeHost, ui_server: Any, page: Any
) -> None:
    """until before since: the API's 400 names `until` and the user sees it as a toast."""
    open_dashboard(page, ui_server)
    page.locator("[data-range='custom']").click()
    page.get_by_label("since").fill("2026-03-10")
    page.get_by_label("until").fill("2026-03-01")
    page.get_by_role("button", name="Apply").click()
    page.get_by_test_id("toast").first.wait_for()
    assert any(
        "until: must be after since" in t for t in page.get_by_test_id("toast").all_inner_texts()
    )


@pytest.fixture
def big_host(tmp_path: Path, isolated_home: Path) -> Iterator[FakeHost]:
    """The fake Agent Zero with 100,000 seeded calls over 30 days."""
    from seed import seed_ledger

    host = make_host(tmp_path)
    try:
        with ThreadPoolExecutor(1) as pool:
            job = pool.submit(seed_ledger, isolated_home / "ledger.db", calls=100_000, chats=400)
            job.result()
        yield host
    finally:
        host.close()


@pytest.mark.slow
def test_100k_calls_the_page_stays_usable_and_pages_the_table(
    big_host: FakeHost, page: Any
) -> None:
    """With 100,000 calls the work is on the server: while sections load the page still
    reacts (switching the breakdown works at once), the table holds one page of rows, and
    every section ends with the report's figures (bench/bench_dashboard.py times them)."""
    from server import UiServer

    server = UiServer(big_host)
    try:
        page.set_default_timeout(300_000)
        page.goto(f"{server.url}/chat.html?ctx=chat0001")
        page.evaluate("openModal('/plugins/agent_routing/webui/dashboard.html')")
        page.locator("[data-testid=ar-dashboard][data-loading=true]").wait_for()
        page.get_by_role("button", name="kind", exact=True).click()
        assert page.locator(".ar-seg button.active", has_text="kind").count() == 1
        assert page.locator("[data-testid=ar-dashboard][data-loading=true]").count() == 1
        settled(page)
        expected = report("model", 7)
        assert page.get_by_test_id("ar-total").inner_text() == money(expected.totals.cost_usd)
        assert page.locator("[data-testid=ar-calls] tbody tr").count() == 25
        assert page.locator("[data-testid=ar-breakdown] tbody tr").count() >= 5
        assert page.errors == []
    finally:
        server.close()
