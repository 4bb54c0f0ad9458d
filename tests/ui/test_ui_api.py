"""The UI's API handlers through the fake host's dispatch: validation names each field and
changes nothing; bad parameters are 400s naming the field; the handlers answer GET too."""

from __future__ import annotations

import calendar
import time
from pathlib import Path

import pytest
from fakehost import FakeHost, fake_host, respond

from agent_routing.host.ui_api import validate_settings

__all__ = ["fake_host"]


def fields(problems: list[dict]) -> list[str]:
    return [p["field"] for p in problems]


def test_validation_names_every_bad_field() -> None:
    """Negative limit, unknown tier/budget/quota models, alerts out of order, unknown key."""
    problems = validate_settings(
        {
            "tiers": [{"name": "cheap", "model": "acme/imaginary-9000"}],
            "budgets": [
                {"scope": "daily", "limit_usd": 5, "alert_thresholds": [0.8, 0.5]},
                {"scope": "monthly", "limit_usd": 5, "model": "acme/other"},
            ],
            "quotas": [{"model": "acme/third", "unit": "requests", "period": "day", "limit": 5}],
        }
    )
    assert fields(problems) == [
        "tiers.0.model",
        "budgets.1.model",
        "quotas.0.model",
        "budgets.0.alert_thresholds",
    ]
    assert fields(validate_settings({"budgets": [{"scope": "daily", "limit_usd": -1}]})) == [
        "budgets.0.limit_usd"
    ]
    assert fields(validate_settings({"routr": {}})) == ["routr"]
    assert validate_settings({"budgets": [{"scope": "daily", "limit_usd": 1}]}) == []
    assert fields(validate_settings(["not", "a", "mapping"])) == ["settings"]


def test_priced_custom_models_are_known() -> None:
    """A model priced under `prices` is not reported unknown."""
    price = {"input_cost_per_token": 1e-7, "output_cost_per_token": 2e-7}
    config = {
        "tiers": [{"name": "local", "model": "ollama/mine"}],
        "prices": {"ollama/mine": price},
    }
    assert validate_settings(config) == []


async def test_the_handlers_answer_and_refuse_bad_input(fake_host: FakeHost) -> None:
    """validate / models / describe answer; an unknown action, an unknown parameter, a bad
    section or a bad date is a 400 naming the field; GET with a query string works."""
    status, body = await fake_host.api_call(
        "ui_settings", "POST", json_body={"action": "validate", "settings": {"tiers": []}}
    )
    assert (status, body) == (200, {"ok": True, "problems": []})
    status, body = await fake_host.api_call(
        "ui_settings", "POST", json_body={"action": "models", "query": "gpt-4o-mini"}
    )
    assert status == 200
    assert [m["role"] for m in body["host_models"]] == [
        "chat_model",
        "utility_model",
        "embedding_model",
    ]
    assert body["models"][0]["model"] == "openai/gpt-4o-mini"  # the host's utility model first
    assert body["models"][0]["input_per_mtok"] == 0.15
    status, body = await fake_host.api_call(
        "ui_settings", "POST", json_body={"action": "describe", "models": ["gpt-4o", "nope/x"]}
    )
    assert [(m["model"], m["known"], m["context_window"]) for m in body["models"]] == [
        ("gpt-4o", True, 128000),
        ("nope/x", False, None),
    ]
    for handler, bad, field in (
        ("ui_settings", {"action": "delete"}, "action"),
        ("ui_settings", {"action": "validate", "settings": {}, "extra": 1}, "extra"),
        ("ui_dashboard", {"section": "everything"}, "section"),
        ("ui_dashboard", {"section": "summary", "since": "yesterday"}, "since"),
        ("ui_dashboard", {"section": "calls", "page_size": 7}, "page_size"),
        ("ui_chat", {}, "context"),
    ):
        status, body = await fake_host.api_call(handler, "POST", json_body=bad)
        assert status == 400, (handler, bad)
        assert [p["field"] for p in body["problems"]] == [field]
    status, body = await fake_host.api_call("ui_dashboard", "GET", args={"section": "budgets"})
    assert status == 200
    assert body == {"budgets": [], "alerts": []}


async def test_the_chat_element_reads_the_chats_calls(fake_host: FakeHost) -> None:
    """After a routed turn, ui_chat reports that chat's calls, spend and tier."""
    fake_host.provider.script_main(respond("4"))
    context = fake_host.new_context()
    assert await fake_host.send(context, "What is 2+2?") == "4"
    ledger = await fake_host.ledger()
    mine = [c for c in ledger.calls if c.conversation_id == context.id]
    status, body = await fake_host.api_call("ui_chat", "POST", json_body={"context": context.id})
    assert status == 200
    assert body["calls"] == len(mine)
    assert body["spent_usd"] == pytest.approx(sum(c.cost_usd or 0 for c in mine))
    assert body["tier"] in {"utility", "chat"}
    assert body["pinned"] is None


async def test_the_routing_section_equals_pricing_every_call(
    fake_host: FakeHost, isolated_home: Path
) -> None:
    """The dashboard's routing section (sums from the database) reports what pricing each
    call of the range in Python reports, and the range's decision counts, on the seeded
    ledger of the browser tests (2,000 calls, routed and not) plus long prompts whose
    strongest model bills them at a long-context tier (above 128k and 200k tokens)."""
    from seed import seed_async

    from agent_routing.host.ui_api import routing_savings
    from agent_routing.ledger import ledger_for
    from agent_routing.pricing import cost_usd, unit_prices
    from agent_routing.records import CallRecord, DecisionRecord, Outcome, Usage

    fake_host.configure({})
    path = isolated_home / "ledger.db"  # the plugin's default ledger
    now = await seed_async(path, calls=2000, days=10, chats=20)
    long_calls, long_decisions = [], []
    for n, strong in enumerate(["claude-sonnet-4-20250514", "gemini/gemini-1.5-pro"] * 3):
        started = now - 86_400 - n * 60
        long_decisions.append(
            DecisionRecord(
                f"long-{n}", started - 1, "chat0001", 0, "chat", "balanced", "cheap",
                "gpt-4o-mini", strong, 0.3,
                candidates=[{"tier": "cheap", "model": "gpt-4o-mini"}, {"model": strong}],
            )
        )  # fmt: skip
        usage = Usage(120_000 + 50_000 * n, 800, cached_read_tokens=10_000 * n)
        long_calls.append(
            CallRecord(
                f"long-call-{n}", started, "gpt-4o-mini", conversation_id="chat0001",
                decision_id=f"long-{n}", outcome=Outcome.OK, usage=usage, cost_usd=0.02,
            )
        )  # fmt: skip
    ledger = ledger_for(path=path)
    await ledger.open()
    try:
        await ledger.write_batch(long_calls, long_decisions, [])
    finally:
        await ledger.close()
    day = time.strftime("%Y-%m-%d", time.gmtime(now))
    first = time.strftime("%Y-%m-%d", time.gmtime(now - 4 * 86_400))
    status, body = await fake_host.api_call(
        "ui_dashboard",
        "POST",
        json_body={"section": "routing", "since": first, "until": day, "tz": "UTC"},
    )
    assert status == 200, body
    since = calendar.timegm(time.strptime(first, "%Y-%m-%d"))
    until = calendar.timegm(time.strptime(day, "%Y-%m-%d")) + 86_400
    ledger = ledger_for(path=path)
    await ledger.open()
    try:
        calls = await ledger.query_calls(since=since, until=until)
        decisions = await ledger.query_decisions(since=since, until=until)
    finally:
        await ledger.close()
    expected = routing_savings(calls, decisions)
    long_ids = {c.id for c in long_calls}
    assert long_ids <= {c.id for c in calls}
    at_base = 0.0
    for call, decision in zip(long_calls, long_decisions, strict=True):
        prices = unit_prices(decision.configured_model or "")
        assert prices is not None
        assert call.usage is not None
        at_base += cost_usd(call.usage, prices)
    long_only = routing_savings(long_calls, long_decisions)
    assert long_only["all_strong_usd"] > at_base * 1.3  # the long-context tiers count
    assert body["calls_compared"] == expected["calls_compared"] > 100
    assert body["calls_below_strongest"] == expected["calls_below_strongest"] > 0
    assert body["all_strong_usd"] == pytest.approx(expected["all_strong_usd"], rel=1e-12)
    assert body["actual_usd"] == pytest.approx(expected["actual_usd"], rel=1e-12)
    assert body["decisions"] == len(decisions)
    assert body["applied"] == sum(1 for d in decisions if d.applied)
