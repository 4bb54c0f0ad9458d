"""Real usage inside Agent Zero: one ledger row per call, even when litellm reports nothing."""

from __future__ import annotations

from fakehost import FakeHost, fake_host, respond, tool_call

from agent_routing.records import Outcome, UsageSource
from agent_routing.tokens import count_message_tokens, count_text_tokens

__all__ = ["fake_host"]


async def test_the_abandoned_main_stream_is_recorded_from_its_messages_and_text(
    fake_host: FakeHost,
) -> None:
    """v1.7 (plugin's stream usage off): litellm fires no success for the main call; the row
    has its exact input and its output estimated. v2 (usage drain): the stream is read to its
    end, provider usage."""
    reply = respond("4")
    fake_host.provider.script_main(reply + " and text after the tool call that nobody reads")
    fake_host.configure({"router": {"enabled": False}, "capture": {"stream_usage": False}})
    await fake_host.send(fake_host.new_context(), "What is 2+2?")
    [main_call] = fake_host.provider.main_calls()
    [row] = (await fake_host.ledger()).calls_of("chat")
    assert row.outcome is Outcome.OK
    assert row.usage is not None
    expected_input = count_message_tokens(main_call.messages, main_call.model)
    assert abs(row.usage.input_tokens - expected_input) <= 8  # cache markers aside
    if fake_host.is_v2:  # the text after the tool JSON is generated and billed
        assert row.usage_source is UsageSource.PROVIDER
        assert row.usage.output_tokens > count_text_tokens(reply, main_call.model)
    else:
        assert row.usage_source is UsageSource.ESTIMATED
        assert 5 <= row.usage.output_tokens <= 60  # the tool JSON only, not the trailing text
    assert row.cost_usd is not None
    assert row.cost_usd > 0


async def test_foreground_utility_calls_get_provider_usage_on_the_same_row(
    fake_host: FakeHost,
) -> None:
    """Chat renaming's success callback arrives: its usage replaces the estimate, one row."""
    fake_host.provider.script_main(respond("ok"))
    await fake_host.send(fake_host.new_context(), "hi")
    rows = (await fake_host.ledger()).calls_of("title")
    assert len(rows) == 1
    assert rows[0].usage_source is UsageSource.PROVIDER
    assert rows[0].outcome is Outcome.OK


async def test_background_memorisation_is_recorded_with_its_chat(fake_host: FakeHost) -> None:
    """The utility call made in a background task after the turn still lands, attributed,
    with the provider's usage: the flush waits for litellm's queued callbacks (#10)."""
    fake_host.provider.script_main(respond("ok"))
    context = fake_host.new_context()
    await fake_host.send(context, "Remember that my cat is called Miso.")
    [row] = (await fake_host.ledger()).calls_of("memory")
    assert (row.conversation_id, row.agent_no, row.outcome) == (context.id, 0, Outcome.OK)
    assert row.usage_source is UsageSource.PROVIDER
    assert row.usage is not None
    assert row.usage.input_tokens > 0


async def test_compression_savings_go_on_the_main_calls_row(fake_host: FakeHost) -> None:
    """An old long tool output is compressed before the next main call; the row says how much."""
    fake_host.configure_models(chat_model={"provider": "openai", "name": "gpt-4"})  # 8k, no cache
    fake_host.configure(
        {
            "router": {"enabled": False},
            "compression": {"target_fullness": 0.3, "keep_recent_turns": 1},
        }
    )
    fake_host.provider.script_main(
        tool_call("code_execution_tool", code="dump 400"),
        respond("the log is fine"),
        respond("still fine"),
    )
    context = fake_host.new_context()
    await fake_host.send(context, "Check the worker log.")
    await fake_host.send(context, "And now?")  # the log is now an older turn
    first, second, third = (await fake_host.ledger()).calls_of("chat")
    assert first.tokens_saved is None  # nothing worth compressing yet
    assert second.tokens_saved is None  # the log is in the most recent turn: protected
    assert third.tokens_saved is not None
    assert third.tokens_saved > 3000
    assert third.usd_saved is not None
    assert third.usd_saved > 0
    assert third.usage is not None
    assert second.usage is not None
    assert third.usage.input_tokens < second.usage.input_tokens - 3000
    stored = context.agent0.history.output()[2]["content"]["tool_result"]
    assert stored.count("\n") == 399  # the stored history is untouched
