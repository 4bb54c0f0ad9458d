"""The cost API served by the fake host at /api/plugins/agent_routing/<handler>."""

from __future__ import annotations

import math

import pytest
from fakehost import FakeHost, fake_host, respond, tool_call

__all__ = ["fake_host"]


@pytest.fixture
async def chatted(fake_host: FakeHost) -> tuple[FakeHost, str]:
    """A host with one finished chat (main, utility, tool and embedding calls) in its ledger."""
    fake_host.provider.script_main(
        tool_call("document_query", document="q3.pdf", query="revenue?"), respond("42")
    )
    fake_host.provider.script("gpt-4o", "Revenue was 42.")
    context = fake_host.new_context()
    await fake_host.send(context, "What was revenue in Q3?")
    return fake_host, context.id


async def test_totals_equal_the_ledger(chatted: tuple[FakeHost, str]) -> None:
    """GET costs sums exactly the calls in the ledger: count, tokens and dollars."""
    host, _ = chatted
    status, body = await host.api_call("costs")
    assert status == 200
    ledger = await host.ledger()
    totals = body["totals"]
    assert totals["calls"] == len(ledger.calls)
    assert totals["input_tokens"] == sum(c.usage.input_tokens for c in ledger.calls if c.usage)
    assert math.isclose(totals["cost_usd"], math.fsum(c.cost_usd or 0.0 for c in ledger.calls))
    assert totals["cost_usd"] > 0


async def test_breakdowns_use_the_cli_dimensions(chatted: tuple[FakeHost, str]) -> None:
    """by=kind and by=tool group the same calls the way `agent-routing costs --by` does."""
    host, context_id = chatted
    _, by_kind = await host.api_call("costs", args={"by": "kind"})
    kinds = {group["key"]: group["calls"] for group in by_kind["groups"]}
    assert {"chat", "title", "memory", "document_query", "embedding"} <= set(kinds)
    _, by_tool = await host.api_call("costs", args={"by": "tool"})
    assert "document_query" in {group["key"] for group in by_tool["groups"]}
    _, by_conversation = await host.api_call("costs", args={"by": "conversation"})
    assert [g["key"] for g in by_conversation["groups"]] == [context_id]


async def test_one_chats_costs_and_decisions(chatted: tuple[FakeHost, str]) -> None:
    """GET chat_costs returns that chat's calls, totals and routing decisions only."""
    host, context_id = chatted
    status, body = await host.api_call("chat_costs", args={"context": context_id})
    assert status == 200
    ledger = await host.ledger()
    assert len(body["calls"]) == len(ledger.calls)
    assert body["totals"]["calls"] == len(ledger.calls)
    assert {d["id"] for d in body["decisions"]} == {d.id for d in ledger.decisions}
    assert all(c["conversation_id"] == context_id for c in body["calls"])
    _, other = await host.api_call("chat_costs", args={"context": "nosuchchat"})
    assert other["totals"]["calls"] == 0


BAD_PARAMETERS = [
    ("costs", {"by": "colour"}, "by"),
    ("costs", {"since": "yesterday"}, "since"),
    ("costs", {"since": "2026-05-02", "until": "2026-05-01"}, "until"),
    ("costs", {"top": "-1"}, "top"),
    ("costs", {"tz": "Mars/Olympus"}, "tz"),
    ("costs", {"group": "model"}, "group"),
    ("chat_costs", {}, "context"),
    ("chat_costs", {"context": "x", "limit": "many"}, "limit"),
    ("budget", {"scope": "daily"}, "scope"),
]


async def test_bad_parameters_give_400_naming_the_field(fake_host: FakeHost) -> None:
    """Each bad query parameter is refused with a JSON 400 that names it."""
    for handler, args, field in BAD_PARAMETERS:
        status, body = await fake_host.api_call(handler, args=args)
        assert status == 400, (handler, args)
        assert field in [problem["field"] for problem in body["problems"]], (handler, args)


async def test_setting_a_budget_validates_and_stores_it(fake_host: FakeHost) -> None:
    """POST budget stores a valid budget (GET shows it); a bad one is a 400 and stores nothing."""
    status, body = await fake_host.api_call(
        "budget", "POST", json_body={"scope": "daily", "limit_usd": -1, "enforcement": "stop"}
    )
    assert status == 400
    assert {p["field"] for p in body["problems"]} == {"limit_usd", "enforcement"}
    _, before = await fake_host.api_call("budget")
    assert before["budgets"] == []

    status, body = await fake_host.api_call(
        "budget", "POST", json_body={"scope": "daily", "limit_usd": 2.5, "enforcement": "warn"}
    )
    assert status == 200
    assert body["saved"]["limit_usd"] == 2.5
    _, after = await fake_host.api_call("budget")
    assert [(b["key"], b["limit_usd"], b["source"]) for b in after["budgets"]] == [
        ("daily:*", 2.5, "stored")
    ]
    status, removed = await fake_host.api_call("budget", "POST", json_body={"remove": "daily:*"})
    assert (status, removed["removed"]) == (200, True)


async def test_a_stored_budget_applies_to_the_agent_at_once(fake_host: FakeHost) -> None:
    """A block budget set through the API stops the next turn (no restart, no config edit)."""
    await fake_host.api_call(
        "budget", "POST", json_body={"scope": "daily", "limit_usd": 1e-9, "enforcement": "block"}
    )
    fake_host.provider.script_main(respond("never"))
    assert await fake_host.send(fake_host.new_context(), "hi") is None
    assert fake_host.provider.calls == []


async def test_host_auth_and_method_rules_stay_on(fake_host: FakeHost) -> None:
    """Handlers keep the host's auth/CSRF defaults and declare their methods."""
    assert (await fake_host.api_call("costs", csrf=False))[0] == 403
    assert (await fake_host.api_call("costs", "POST"))[0] == 405
    assert (await fake_host.api_call("budget", "DELETE"))[0] == 405
    from helpers.api import ApiHandler, load_module_classes

    for name in ("costs", "chat_costs", "budget"):
        [handler, *_] = load_module_classes(fake_host.plugin_dir / "api" / f"{name}.py", ApiHandler)
        assert "requires_auth" not in vars(handler)
        assert "requires_csrf" not in vars(handler)
        assert "get_methods" in vars(handler)
