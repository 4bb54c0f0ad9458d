"""The switch_model tool: sticky per chat, reverted by auto, budget-aware, never raises."""

from __future__ import annotations

import json

from fakehost import FakeHost, fake_host, respond, tool_call

from agent_routing.config import TierConfig
from agent_routing.host.prompts import render_tiers
from agent_routing.host.switch import SwitchRequest, parse_switch_args

__all__ = ["fake_host"]

SIMPLE = "What is 2+2?"
TIERS = [
    TierConfig(name="cheap", model="openai/gpt-4o-mini", use_for="lookups"),
    TierConfig(name="strong", model="openai/gpt-4o", use_for="hard reasoning"),
]


def main_models(host: FakeHost) -> list[str]:
    return [call.model for call in host.provider.main_calls()]


def tool_results(context: object, tool: str) -> list[str]:
    history = context.agent0.history.output()  # type: ignore[attr-defined]
    return [
        m["content"]["tool_result"]
        for m in history
        if isinstance(m["content"], dict) and m["content"].get("tool_name") == tool
    ]


async def test_switch_is_sticky_across_iterations_and_reverted_by_auto(fake_host: FakeHost) -> None:
    """After switching to chat, every step uses it until the agent hands back with auto."""
    fake_host.provider.script_main(
        tool_call("switch_model", tier="chat", reason="this needs care"),
        tool_call("code_execution_tool", code="print(1)"),
        tool_call("switch_model", tier="auto", reason="easy from here"),
        respond("4"),
    )
    context = fake_host.new_context()
    assert await fake_host.send(context, SIMPLE) == "4"
    assert main_models(fake_host) == [
        "openai/gpt-4o-mini",
        "openai/gpt-4o",
        "openai/gpt-4o",
        "openai/gpt-4o-mini",
    ]
    assert "agent_routing_override" not in context.data
    ledger = await fake_host.ledger()
    switches = [d for d in ledger.decisions if d.strategy == "switch_model"]
    assert [(d.chosen_tier, d.chosen_model) for d in switches] == [
        ("chat", "openai/gpt-4o"),
        (None, "auto"),
    ]
    assert switches[0].reason == "switch_model: this needs care"
    assert all(d.conversation_id == context.id for d in switches)


async def test_the_choice_is_saved_with_the_chat_and_survives_a_reload(fake_host: FakeHost) -> None:
    """The override is plain JSON in context.data: the saved chat keeps it after a restart."""
    fake_host.provider.script_main(
        tool_call("switch_model", tier="chat", reason="hard project"), respond("noted")
    )
    context = fake_host.new_context()
    await fake_host.send(context, SIMPLE)
    saved = json.loads((fake_host.root / "usr" / "chats" / context.id / "chat.json").read_text())
    assert saved["data"]["agent_routing_override"]["tier"] == "chat"

    from helpers import persist_chat

    reloaded = persist_chat.load_tmp_chat(context.id)
    fake_host.provider.script_main(respond("still strong"))
    await fake_host.send(reloaded, SIMPLE)
    assert main_models(fake_host)[-1] == "openai/gpt-4o"


async def test_invalid_arguments_come_back_as_a_tool_message(fake_host: FakeHost) -> None:
    """An unknown tier is explained to the agent with the valid choices; the loop goes on."""
    fake_host.provider.script_main(
        tool_call("switch_model", tier="turbo", reason="faster"), respond("ok")
    )
    context = fake_host.new_context()
    assert await fake_host.send(context, SIMPLE) == "ok"
    [message] = tool_results(context, "switch_model")
    assert "unknown tier or model 'turbo'" in message
    assert '"utility" (openai/gpt-4o-mini)' in message
    assert '"chat" (openai/gpt-4o)' in message
    assert "agent_routing_override" not in context.data


async def test_switching_up_is_refused_when_the_budget_forbids_it(fake_host: FakeHost) -> None:
    """Under a budget that only allows downgrades, asking for the strong tier is refused."""
    fake_host.configure(
        {"budgets": [{"scope": "conversation", "limit_usd": 1e-7, "enforcement": "downgrade"}]}
    )
    fake_host.provider.script_main(
        tool_call("switch_model", tier="chat", reason="need more power"), respond("ok")
    )
    context = fake_host.new_context()
    assert await fake_host.send(context, SIMPLE) == "ok"
    [message] = tool_results(context, "switch_model")
    assert message.startswith("switch_model refused:")
    assert "agent_routing_override" not in context.data
    assert set(main_models(fake_host)) == {"openai/gpt-4o-mini"}


async def test_a_switch_is_not_claimed_while_routing_is_off(fake_host: FakeHost) -> None:
    """With the router disabled or the tiers unroutable, the tool says the choice cannot apply.

    Found on a real Agent Zero v2 turn: with an unknown tier model (routing off), the tool
    answered "Switched to tier ..." while every call stayed on Agent Zero's model.
    """
    for config in (
        {"router": {"enabled": False}},
        {
            "tiers": [
                {"name": "cheap", "model": "openai/my-private-model"},  # unpriced: unroutable
                {"name": "strong", "model": "openai/gpt-4o-mini"},
            ]
        },
    ):
        fake_host.configure(config)
        fake_host.provider.script_main(
            tool_call("switch_model", tier="cheap" if "tiers" in config else "utility"),
            respond("ok"),
        )
        context = fake_host.new_context()
        assert await fake_host.send(context, SIMPLE) == "ok"
        [message] = tool_results(context, "switch_model")
        assert message.startswith("switch_model: routing is off"), message
        assert "agent_routing_override" not in context.data
    assert set(main_models(fake_host)) == {"openai/gpt-4o"}  # Agent Zero's chat model


async def test_the_tool_prompt_lists_tiers_with_prices(fake_host: FakeHost) -> None:
    """The main system prompt carries the switch_model section rendered from the tiers."""
    fake_host.provider.script_main(respond("ok"))
    await fake_host.send(fake_host.new_context(), SIMPLE)
    system = fake_host.provider.main_calls()[0].messages[0]["content"]
    assert "### switch_model:" in system
    assert '- "utility": openai/gpt-4o-mini ($0.15 / $0.60)' in system
    assert '- "chat": openai/gpt-4o ($2.50 / $10.00)' in system
    assert '"tier": "chat"' in system  # the example names the strongest tier
    assert "{{" not in system


def test_parse_accepts_tier_model_or_auto_and_explains_mistakes() -> None:
    """Tier names, model ids and auto parse; missing, unknown or conflicting args explain."""
    assert parse_switch_args({"tier": "Strong", "reason": "x"}, TIERS) == SwitchRequest(
        TIERS[1], "x"
    )
    assert parse_switch_args({"model": "gpt-4o-mini"}, TIERS) == SwitchRequest(TIERS[0], "")
    assert parse_switch_args({"auto": "true"}, TIERS) == SwitchRequest(None, "")
    for args, expected in (
        ({}, "give 'tier'"),
        ({"tier": "huge"}, "unknown tier or model 'huge'"),
        ({"tier": "cheap", "model": "openai/gpt-4o"}, "name different tiers"),
        ({"tier": "cheap", "speed": 1}, "unknown argument(s) ['speed']"),
    ):
        message = parse_switch_args(args, TIERS)
        assert isinstance(message, str)
        assert expected in message
        assert '"cheap" (openai/gpt-4o-mini)' in message


def test_rendered_tiers_show_the_current_choice() -> None:
    """The tier list says 'auto' until the agent picks a tier, then names it and the reason."""
    auto = render_tiers(TIERS, {}, None)
    assert auto.splitlines()[-1] == 'now: "auto" (the router picks a tier for each step)'
    chosen = render_tiers(TIERS, {}, {"tier": "strong", "reason": "proofs"})
    assert chosen.splitlines()[-1] == 'now: "strong", chosen by you (proofs)'
    assert '- "cheap": openai/gpt-4o-mini ($0.15 / $0.60): lookups' in chosen
