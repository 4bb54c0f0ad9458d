"""Budget counting inside Agent Zero (fake host): the first step reserves the whole prompt,
background calls after a block stop are skipped quietly, an unpriced model is explained,
and a long cooldown wait is shown in the chat."""

from __future__ import annotations

import logging
import sqlite3
from typing import Any

import pytest
from fakehost import FakeHost, fake_host, respond

from agent_routing import pricing
from agent_routing.host._runtime import get_runtime
from agent_routing.host.failures import BLOCK_HEADING
from agent_routing.host.routing import _announce_wait
from agent_routing.tokens import count_message_tokens

__all__ = ["fake_host"]


def reservation_row(reservation_id: str) -> tuple[int, str]:
    path = get_runtime(None).settings.ledger.resolved_path()
    with sqlite3.connect(str(path)) as db:
        row = db.execute(
            "SELECT input_tokens, status FROM reservations WHERE id = ?", (reservation_id,)
        ).fetchone()
    assert row is not None
    return int(row[0]), str(row[1])


async def test_the_first_step_reserves_the_whole_prompt(fake_host: FakeHost) -> None:
    """The first main call's reservation covers the prompt as sent, system prompt included."""
    fake_host.configure(
        {"budgets": [{"scope": "daily", "limit_usd": 100.0, "enforcement": "block"}]}
    )
    fake_host.provider.script_main(respond("4"))
    context = fake_host.new_context()
    assert await fake_host.send(context, "What is 2+2?") == "4"
    sent = fake_host.provider.main_calls()[0]
    ledger = await fake_host.ledger()
    main = next(c for c in ledger.calls if c.call_kind == "chat")
    assert main.reservation_id is not None
    reserved, status = reservation_row(main.reservation_id)
    system_tokens = count_message_tokens(sent.messages[:1], main.model)
    assert system_tokens > 100  # the host's system prompt is most of the first prompt
    assert reserved >= count_message_tokens(sent.messages, main.model)
    assert status == "settled"


async def test_background_calls_after_a_block_stop_are_skipped_quietly(
    fake_host: FakeHost, caplog: pytest.LogCaptureFixture
) -> None:
    """After a block ends the turn, memorisation (a background utility call) makes no call,
    raises nothing in its task, and leaves one log line; the chat shows only the block."""
    fake_host.configure(
        {"budgets": [{"scope": "daily", "limit_usd": 1e-9, "enforcement": "block"}]}
    )
    fake_host.provider.script_main(respond("never sent"))
    context = fake_host.new_context()
    with caplog.at_level(logging.INFO, logger="agent_routing.host"):
        assert await fake_host.send(context, "What is 2+2?") is None
    assert fake_host.provider.calls == []
    assert context.background_tasks, "the fake host memorises in the background"
    for task in context.background_tasks:
        assert task.future.exception() is None
        assert task.future.result() == ""
    errors = [item for item in context.log.logs if item.type == "error"]
    assert [item.heading for item in errors] == [BLOCK_HEADING]
    skipped = [r for r in caplog.records if "background utility call" in r.getMessage()]
    assert len(skipped) == 1
    assert not any(r.exc_info for r in skipped)


async def test_an_unpriced_model_is_explained_not_blamed_on_the_limit(
    fake_host: FakeHost,
) -> None:
    """A block budget refuses an unpriced model with "price unknown, add it", not a limit."""
    fake_host.configure_models(chat_model={"provider": "ollama", "name": "my-local-llm"})
    fake_host.configure({"budgets": [{"scope": "daily", "limit_usd": 1.0, "enforcement": "block"}]})
    fake_host.provider.script_main(respond("never sent"))
    context = fake_host.new_context()
    assert await fake_host.send(context, "What is 2+2?") is None
    errors = [item for item in context.log.logs if item.type == "error"]
    assert [item.heading for item in errors] == [BLOCK_HEADING]
    assert "is unknown" in errors[0].content
    assert "Add the price" in errors[0].content
    assert "Raise the limit" not in errors[0].content
    assert "$0.0000" not in errors[0].content


async def test_an_unpriced_model_may_be_let_through_by_setting(fake_host: FakeHost) -> None:
    """pricing.unpriced: warn lets the call run under a block budget (spend not counted)."""
    fake_host.configure_models(chat_model={"provider": "ollama", "name": "my-local-llm"})
    fake_host.configure(
        {
            "budgets": [{"scope": "daily", "limit_usd": 1.0, "enforcement": "block"}],
            "pricing": {"unpriced": "warn"},
        }
    )
    fake_host.provider.script_main(respond("4"))
    assert await fake_host.send(fake_host.new_context(), "What is 2+2?") == "4"


async def test_the_host_default_chat_model_passes_a_daily_block_budget(
    fake_host: FakeHost,
) -> None:
    """Agent Zero v1.7's default models are priced: the README's budget lets them run."""
    fake_host.configure_models(
        chat_model={"provider": "openrouter", "name": "anthropic/claude-sonnet-4.6"},
        utility_model={"provider": "openrouter", "name": "google/gemini-3.1-flash-lite-preview"},
    )
    fake_host.configure({"budgets": [{"scope": "daily", "limit_usd": 1.0, "enforcement": "block"}]})
    fake_host.provider.script_main(respond("4"))
    context = fake_host.new_context()
    assert await fake_host.send(context, "What is 2+2?") == "4"
    ledger = await fake_host.ledger()
    assert ledger.calls
    for call in ledger.calls:
        assert call.cost_usd is not None, call.model
        assert call.cost_usd > 0
        assert call.prices is not None
        choice = pricing.price_choice(call.model)
        assert choice is not None
        assert (call.prices.source, call.prices.model_key) == (choice.source, choice.key)
    assert ledger.decisions, "priced host tiers are routed"
    assert {c.model for c in ledger.calls} & {
        "openrouter/anthropic/claude-sonnet-4.6",
        "openrouter/google/gemini-3.1-flash-lite-preview",
    }


class _Log:
    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []

    def log(self, **item: Any) -> None:
        self.items.append(item)


async def test_a_long_wait_is_shown_in_the_chat() -> None:
    """The wait notice lands in the chat's log as a warning naming the model and seconds."""

    class Context:
        log = _Log()

    class Agent:
        context = Context()

    await _announce_wait(Agent(), 42.4, "gpt-4o-mini")
    (item,) = Agent.context.log.items
    assert item["type"] == "warning"
    assert "42 s for gpt-4o-mini" in item["content"]


async def test_the_plugin_budgets_wait_for_the_ledger_writer(fake_host: FakeHost) -> None:
    """The plugin's budget checks wait for the capture writer's pending records."""
    fake_host.configure({"budgets": [{"scope": "daily", "limit_usd": 1.0}]})
    fake_host.provider.script_main(respond("4"))
    await fake_host.send(fake_host.new_context(), "What is 2+2?")
    budgets = await get_runtime(None).budgets.instance()
    assert budgets._pending_writes is not None
    await budgets._wait_for_pending_writes()  # returns once everything is committed


async def test_a_cooldown_wait_is_shown_in_the_chat_end_to_end(
    fake_host: FakeHost, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A main call whose only tier cools down waits for it, and the chat says so."""
    from agent_routing.router import _fallback as fallback

    monkeypatch.setattr(fallback, "NOTICE_AFTER_S", 0.1)  # the real 3 s, scaled down
    fake_host.configure({"tiers": [{"name": "only", "model": "gpt-4o-mini"}]})
    fake_host.provider.script_main(respond("4"))
    context = fake_host.new_context()
    get_runtime(None).cooldowns.cool("gpt-4o-mini", 0.5)
    assert await fake_host.send(context, "What is 2+2?") == "4"
    waits = [item for item in context.log.logs if item.heading == "Waiting for a model"]
    assert len(waits) == 1
    assert "for gpt-4o-mini" in waits[0].content
