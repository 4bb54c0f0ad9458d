"""Budget alerts, blocks, fallbacks, waits and unpriced models become host notifications."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fakehost import FakeHost, fake_host, respond

from agent_routing import events
from agent_routing.host import _notify as notify

__all__ = ["fake_host"]


@pytest.fixture
def sent(fake_host: FakeHost) -> Iterator[list]:
    """The fake host's notification log, emptied; the notifier forgotten afterwards."""
    from helpers import notification

    notification.SENT.clear()
    notify.uninstall()
    yield notification.SENT
    notify.uninstall()


async def test_a_budget_alert_and_the_block_reach_the_user_as_toasts_of_that_chat(
    fake_host: FakeHost, sent: list
) -> None:
    """A daily budget crossed by the first step alerts (warning, once per threshold), the
    block that follows is an error toast, both grouped under the chat, and the chat log says
    why the task stopped."""
    fake_host.configure(
        {
            "budgets": [
                {
                    "scope": "conversation",
                    "limit_usd": 0.002,
                    "enforcement": "block",
                    "alert_thresholds": [0.5, 0.8],
                }
            ]
        }
    )
    from fakehost import tool_call

    fake_host.provider.script_main(
        *[tool_call("code_execution_tool", code="dump 300") for _ in range(8)], respond("done")
    )
    context = fake_host.new_context()
    assert await fake_host.send(context, "Do the long job.") is None
    titles = [(item.type.value, item.title) for item in sent]
    assert ("warning", "Budget alert") in titles
    assert titles[-1] == ("error", "Budget limit reached")
    assert {item.group for item in sent} == {f"agent_routing:{context.id}"}
    alerts = [item for item in sent if item.title == "Budget alert"]
    assert len({item.id for item in alerts}) == len(alerts)  # one per threshold, no repeats
    assert "budget conversation:*" in sent[-1].message
    assert [i.heading for i in context.log.logs if i.type == "error"] == [
        "Budget limit reached: this task was stopped"
    ]


async def test_a_fallback_hop_is_announced_once_per_chat_and_model(
    fake_host: FakeHost, sent: list
) -> None:
    """A rate-limited cheap tier falls back: one warning toast in the chat's group naming
    the model; the same failure again within the quiet period sends nothing more."""
    fake_host.configure({"router": {"thresholds": [0.45]}})
    fake_host.provider.script_main("litellm.RateLimitError", respond("4"))
    context = fake_host.new_context()
    assert await fake_host.send(context, "What is 2+2?") == "4"
    hops = [item for item in sent if item.title == "Model failed, falling back"]
    assert len(hops) == 1
    assert "openai/gpt-4o-mini failed (rate_limit)" in hops[0].message
    assert hops[0].group == f"agent_routing:{context.id}"
    again = events.Event("fallback", "again", context.id, "openai/gpt-4o-mini")
    events.publish(again)
    assert [item.title for item in sent].count("Model failed, falling back") == 1


async def test_an_unpriced_chat_model_is_announced_once(fake_host: FakeHost, sent: list) -> None:
    """A chat model litellm cannot price: its calls are recorded without a cost and the user
    is told so, once for that model however many calls follow."""
    fake_host.configure_models(chat_model={"provider": "ollama", "name": "my-local-llm"})
    fake_host.provider.script_main(respond("4"), respond("5"))
    context = fake_host.new_context()
    assert await fake_host.send(context, "What is 2+2?") == "4"
    assert await fake_host.send(context, "And 2+3?") == "5"
    await fake_host.ledger()  # capture flushed: every call priced (or not) by now
    unpriced = [item for item in sent if item.title == "Unpriced model"]
    assert [item.message for item in unpriced] == [
        "ollama/my-local-llm has no price: its calls are recorded without a cost"
    ]


def test_short_waits_stay_quiet_and_long_ones_are_announced(
    fake_host: FakeHost, sent: list
) -> None:
    """A cooldown wait below LONG_WAIT_S is not worth a toast; a longer one is, once."""
    notify.install()
    short = events.Event("cooldown_wait", "waiting 2s", model="m", seconds=2.0)
    long = events.Event("cooldown_wait", "waiting 60s", model="m", seconds=60.0)
    for event in (short, long, long):
        events.publish(event)
    assert [item.message for item in sent] == ["waiting 60s"]
    assert sent[0].group == "agent_routing:m"


def test_a_host_without_notifications_only_logs(
    fake_host: FakeHost, sent: list, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without helpers.notification (an older host) an event is dropped quietly, no raise."""
    import sys

    monkeypatch.setitem(sys.modules, "helpers.notification", None)
    notify.notify(events.Event("budget_alert", "x", "chat1", key="k"))
    assert sent == []


async def test_a_budget_downgrade_is_announced(fake_host: FakeHost, sent: list) -> None:
    """A downgrade budget over its limit makes the router take the cheaper tier for a step
    it would give the strong one: an info toast in the chat's group says which model."""
    fake_host.configure(
        {
            "router": {"thresholds": [0.01]},  # every step prefers the strong tier
            "budgets": [{"scope": "daily", "limit_usd": 1e-9, "enforcement": "downgrade"}],
        }
    )
    fake_host.provider.script_main(respond("4"))
    context = fake_host.new_context()
    assert await fake_host.send(context, "What is 2+2?") == "4"
    downgrades = [item for item in sent if item.title == "Cheaper model (budget)"]
    assert downgrades
    assert downgrades[0].message == (
        "a budget asked for a cheaper model: openai/gpt-4o-mini instead of openai/gpt-4o"
    )
    assert downgrades[0].group == f"agent_routing:{context.id}"
