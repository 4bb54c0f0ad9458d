"""The chat cost element in a real browser: this chat's spend, tightest budget bar, tier
(and a switch_model pin), routing savings; refreshed after a step; opens the dashboard."""

from __future__ import annotations

import asyncio
import math
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from conftest import CHAT, copy_screenshot_to_docs, screenshot
from fakehost import FakeHost

from agent_routing.config import LedgerSettings
from agent_routing.host.ui_api import routing_savings
from agent_routing.ledger import ledger_for
from agent_routing.records import CallRecord, Outcome, Usage, UsageSource


def in_thread(function: Any, *args: Any) -> Any:
    """Run async ledger work off the main thread (Playwright's loop runs there)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: asyncio.run(function(*args))).result()


async def chat_figures(host: FakeHost) -> tuple[str, Any, Any]:
    """The spend text the chip must show, the tightest budget, the routing savings."""
    from agent_routing.budgets import Budgets
    from agent_routing.host._runtime import get_runtime

    settings = get_runtime(None).settings
    ledger = ledger_for(settings.ledger)
    await ledger.open()
    try:
        calls = await ledger.query_calls(conversation_id=CHAT)
        decisions = await ledger.query_decisions(conversation_id=CHAT)
        statuses = await Budgets(ledger, settings).status(CHAT)
    finally:
        await ledger.close()
    spent = math.fsum(c.cost_usd for c in calls if c.cost_usd is not None)
    billed = (Outcome.OK, Outcome.ABANDONED)
    unpriced = any(c.cost_usd is None and c.outcome in billed for c in calls)
    tightest = max((s for s in statuses if s.fraction is not None), key=lambda s: s.fraction)
    return money(spent) + ("+" if unpriced else ""), tightest, routing_savings(calls, decisions)


def money(value: float) -> str:
    """As webui/format.js shows dollars."""
    if abs(value) >= 100:
        return f"${round(value):,}"
    return f"${value:.4f}" if abs(value) < 0.01 else f"${value:.2f}"


def open_chat(page: Any, server: Any, anchors: str = "v2") -> Any:
    page.goto(f"{server.url}/chat.html?ctx={CHAT}&anchors={anchors}")
    chip = page.get_by_test_id("agent-routing-chip")
    chip.wait_for(state="visible")
    return chip


def test_the_chip_shows_this_chats_spend_budget_tier_and_savings(
    ui_host: FakeHost, ui_server: Any, page: Any
) -> None:
    """Beside the host's ring (v2 strip): the chat's ledger spend, the tightest budget's bar
    at its used share, the tier of the last decision and the saving against all-strong;
    exactly one chip although both anchors exist."""
    spent, tightest, savings = in_thread(chat_figures, ui_host)
    chip = open_chat(page, ui_server)
    assert page.locator("#model-strip [data-testid=agent-routing-chip]").count() == 1
    assert page.get_by_test_id("agent-routing-chip").count() == 1
    assert page.get_by_test_id("ar-spent").inner_text() == spent
    width = page.get_by_test_id("ar-budget-fill").evaluate("e => e.style.width")
    assert width == f"{round(min(1.0, tightest.fraction) * 100)}%"
    assert page.get_by_test_id("ar-tier").inner_text() in {"cheap", "strong"}
    assert page.get_by_test_id("ar-saved").inner_text() == f"saved {money(savings['saved_usd'])}"
    assert savings["saved_usd"] > 0
    assert "Tightest budget" in (chip.get_attribute("title") or "")
    image = screenshot(page, "chat-cost", "#model-strip")
    copy_screenshot_to_docs(image, "chat-cost")
    assert page.errors == []


def test_the_chip_sits_in_the_input_strip_on_v1_7(
    ui_host: FakeHost, ui_server: Any, page: Any
) -> None:
    """Without the v2 model strip the element is in the input strip (chat-input-progress-end)."""
    open_chat(page, ui_server, anchors="v1")
    assert page.locator("#progress-bar-box [data-testid=agent-routing-chip]").count() == 1


def test_the_chip_updates_after_a_step_without_reload(
    ui_host: FakeHost, ui_server: Any, page: Any
) -> None:
    """A new priced call in this chat, then the host's set_messages_after_loop hook: the
    spend shown grows by that call's cost; the page was not reloaded."""
    open_chat(page, ui_server)
    before = page.get_by_test_id("ar-spent").inner_text()
    page.evaluate("window.__marker = 1")

    async def add_call() -> None:
        from agent_routing.host._runtime import get_runtime

        ledger = ledger_for(LedgerSettings(path=get_runtime(None).settings.ledger.resolved_path()))
        await ledger.open()
        now = time.time()
        record = CallRecord(
            id="call-new-step", started_at=now, ended_at=now + 1, model="gpt-4o",
            call_kind="chat", conversation_id=CHAT, outcome=Outcome.OK,
            usage=Usage(input_tokens=100_000, output_tokens=2000),
            usage_source=UsageSource.PROVIDER, cost_usd=1.25,
        )  # fmt: skip
        try:
            await ledger.upsert_calls([record])
        finally:
            await ledger.close()

    in_thread(add_call)
    page.evaluate(
        "import('/js/extensions.js').then(m => m.callJsExtensions('set_messages_after_loop', {}))"
    )
    expected, _, _ = in_thread(chat_figures, ui_host)
    assert expected != before
    page.wait_for_function(
        "t => document.querySelector('[data-testid=ar-spent]').textContent === t",
        arg=expected,
    )
    assert page.evaluate("window.__marker") == 1


def test_a_switch_model_pin_is_shown(ui_host: FakeHost, ui_server: Any, page: Any) -> None:
    """A chat pinned to a tier by switch_model shows "<tier> (pinned)"."""
    from agent_routing.host._state import OVERRIDE_KEY

    context = ui_host.agent.AgentContext(ui_host.initialize.initialize_agent(), id=CHAT)
    context.data[OVERRIDE_KEY] = {"tier": "strong", "reason": "user asked"}
    open_chat(page, ui_server)
    page.get_by_test_id("ar-tier").filter(has_text="strong (pinned)").wait_for()


def test_clicking_the_chip_opens_the_dashboard(
    ui_host: FakeHost, ui_server: Any, page: Any
) -> None:
    """A click opens the dashboard page as a modal."""
    chip = open_chat(page, ui_server)
    chip.click()
    page.get_by_test_id("ar-dashboard").wait_for()
    assert page.locator("#modals .modal").get_attribute("data-path") == (
        "/plugins/agent_routing/webui/dashboard.html"
    )
