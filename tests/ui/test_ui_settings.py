"""The settings screen in a real browser: prices shown, bad input refused with a toast
naming the field (nothing saved), a good edit saved through the host's plugin-config API."""

from __future__ import annotations

import json
from typing import Any

from conftest import copy_screenshot_to_docs, screenshot
from fakehost import FakeHost


def open_settings(page: Any, server: Any) -> None:
    page.goto(f"{server.url}/settings.html")
    page.wait_for_selector("[data-testid=ar-settings]")
    page.wait_for_function("document.querySelectorAll('[data-testid=ar-budget-row]').length === 3")


def toasts(page: Any) -> list[str]:
    return page.locator("[data-testid=toast]").all_inner_texts()


def config_file(host: FakeHost) -> dict:
    return json.loads((host.root / "usr" / "plugins" / "agent_routing" / "config.json").read_text())


def test_tier_models_show_their_price_and_context_window(
    ui_host: FakeHost, ui_server: Any, page: Any
) -> None:
    """Adding a tier and picking a model shows its prices per 1M tokens and its window."""
    open_settings(page, ui_server)
    page.get_by_role("button", name="Add tier").click()
    model = page.get_by_label("tier model").first
    model.fill("gpt-4o-mini")
    model.dispatch_event("change")
    price = page.locator("[data-testid=ar-tier-price]").first
    price.filter(has_text="per 1M").wait_for()
    assert price.inner_text() == "in $0.15 / out $0.60 per 1M tokens · 128k context"
    image = screenshot(page, "settings", "#settings-modal")
    copy_screenshot_to_docs(image, "settings")
    model.fill("ollama/nothing-known")
    model.dispatch_event("change")
    price.filter(has_text="no price known").wait_for()
    assert page.errors == []


def test_a_negative_limit_is_refused_with_a_toast_and_nothing_is_saved(
    ui_host: FakeHost, ui_server: Any, page: Any
) -> None:
    """limit -5 on the first budget: Save shows a toast naming budgets.0.limit_usd and the
    host's save_config is never called (config.json keeps the previous budgets)."""
    before = config_file(ui_host)
    open_settings(page, ui_server)
    page.get_by_label("budget limit").first.fill("-5")
    page.click("#save")
    page.locator("[data-testid=toast]").first.wait_for()
    shown = toasts(page)
    assert any("budgets.0.limit_usd" in t and "greater than or equal to 0" in t for t in shown)
    assert ui_server.saved_configs == []
    assert config_file(ui_host) == before
    assert page.locator("[data-testid=saves]").text_content() == "0"
    copy_screenshot_to_docs(screenshot(page, "settings-refused"), "settings-refused")


def test_an_unknown_tier_model_is_refused_naming_the_field(
    ui_host: FakeHost, ui_server: Any, page: Any
) -> None:
    """A tier model litellm cannot price is named (tiers.0.model) and nothing is saved."""
    open_settings(page, ui_server)
    page.get_by_role("button", name="Add tier").click()
    page.get_by_label("tier model").first.fill("acme/imaginary-9000")
    page.click("#save")
    page.locator("[data-testid=toast]").first.wait_for()
    assert any("tiers.0.model" in t and "unknown model" in t for t in toasts(page))
    assert ui_server.saved_configs == []


def test_alert_thresholds_out_of_order_are_refused(
    ui_host: FakeHost, ui_server: Any, page: Any
) -> None:
    """Alerts typed as "80, 50" are named (budgets.1.alert_thresholds); nothing is saved."""
    open_settings(page, ui_server)
    alerts = page.get_by_label("budget alerts").nth(1)
    alerts.fill("80, 50")
    alerts.dispatch_event("change")
    page.click("#save")
    page.locator("[data-testid=toast]").first.wait_for()
    assert any("budgets.1.alert_thresholds" in t and "ascending" in t for t in toasts(page))
    assert ui_server.saved_configs == []


def test_a_valid_edit_is_saved_through_the_host(
    ui_host: FakeHost, ui_server: Any, page: Any
) -> None:
    """Router off, a new monthly budget with alerts at 25/75 %: saved to config.json as the
    plugin reads it, and the plugin's runtime loads it."""
    open_settings(page, ui_server)
    page.get_by_test_id("ar-router-enabled").uncheck()
    page.get_by_test_id("ar-add-budget").click()
    page.get_by_label("budget limit").nth(3).fill("42")
    alerts = page.get_by_label("budget alerts").nth(3)
    alerts.fill("25, 75")
    alerts.dispatch_event("change")
    page.click("#save")
    page.wait_for_function("document.querySelector('[data-testid=saves]').textContent === '1'")
    saved = config_file(ui_host)
    assert saved["router"]["enabled"] is False
    assert saved["budgets"][3] == {
        "scope": "daily",
        "limit_usd": 42,
        "enforcement": "warn",
        "alert_thresholds": [0.25, 0.75],
    }
    assert toasts(page) == []
    from agent_routing.host._runtime import get_runtime

    settings = get_runtime(None).settings
    assert settings.router.enabled is False
    assert settings.budgets[3].limit_usd == 42


def test_the_host_save_hook_refuses_an_invalid_config_from_any_client(
    ui_host: FakeHost, ui_server: Any
) -> None:
    """A client that skips the screen's check (POST save_config directly) still cannot save
    a negative limit: hooks.save_plugin_config raises, the host answers 500, no file change."""
    before = config_file(ui_host)
    bad = {"budgets": [{"scope": "daily", "limit_usd": -1}]}
    status, _, text = ui_server.plugins_api({"action": "save_config", "settings": bad})
    assert status == 500
    assert "budgets.0.limit_usd" in text
    assert config_file(ui_host) == before


def test_the_hosts_default_button_gives_a_valid_form(
    ui_host: FakeHost, ui_server: Any, page: Any
) -> None:
    """The host's Default replaces the settings object with the shipped defaults: the form
    shows them (no budgets, routing on) and they save as they are."""
    open_settings(page, ui_server)
    page.click("#default")
    page.wait_for_function("document.querySelectorAll('[data-testid=ar-budget-row]').length === 0")
    assert page.get_by_test_id("ar-router-enabled").is_checked()
    page.click("#save")
    page.wait_for_function("document.querySelector('[data-testid=saves]').textContent === '1'")
    assert config_file(ui_host)["budgets"] == []
    assert toasts(page) == []
    assert page.errors == []
