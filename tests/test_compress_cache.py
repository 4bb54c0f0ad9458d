"""The provider's prompt cache: a warm prefix is reproduced byte for byte, a cold one is not."""

from __future__ import annotations

import json
from typing import Any

from compress_support import SYSTEM, a0_history, chat_conversation, priced_settings

from agent_routing.compression import CompressionOutcome, compress_loop_prompt, compress_messages
from agent_routing.compression._profile import DEFAULT_PROMPT_CACHE_TTL_S
from agent_routing.config import Settings

MODEL = "test/dear"
T0 = 1_000_000.0


def soft_settings(**overrides: Any) -> Settings:
    """A dear model ($3/M, cache read $0.30/M) and a trigger the conversations reach."""
    return priced_settings(**{"trigger_tokens": 1000, "trigger_usd": 0, **overrides})


def exact(messages: list[Any]) -> list[str]:
    return [json.dumps(message, sort_keys=True) for message in messages]


def first_call() -> tuple[list[dict[str, Any]], Any]:
    messages = chat_conversation(10, lines=20)
    result = compress_messages(messages, model=MODEL, settings=soft_settings(), now=T0)
    assert result.stats.outcome is CompressionOutcome.COMPRESSED
    assert result.cache_state is not None
    return messages, result


def test_warm_prefix_is_reproduced_byte_for_byte() -> None:
    """Within the TTL, what was sent before is sent again exactly; only new turns follow."""
    messages, first = first_call()
    grown = messages + chat_conversation(12, lines=20)[-4:]
    second = compress_messages(
        grown, model=MODEL, settings=soft_settings(), cache_state=first.cache_state, now=T0 + 60
    )
    sent_before = len(first.history)
    assert exact(second.history[:sent_before]) == exact(first.history)
    assert second.history[sent_before:] == grown[len(messages) :]
    assert second.stats.frozen_messages == sent_before
    assert second.stats.outcome is CompressionOutcome.BELOW_THRESHOLD  # not grown enough
    assert "compressed again from" in second.stats.reason


def test_a_warm_prefix_stays_byte_identical_across_steps_and_is_compressed_again() -> None:
    """An agent loop of 24 steps: every compressed message is resent byte for byte while the
    cache is warm, and the prompt is compressed again (old outputs only) as it grows back."""
    conversation = chat_conversation(24, lines=20)
    settings = soft_settings(cache_read_per_mtok=0.75)  # a quarter of the input price (OpenAI)
    state = None
    previous: list[str] = []
    compressed_steps = 0
    for step, end in enumerate(range(6, len(conversation) + 1, 2)):
        result = compress_messages(
            conversation[:end],
            model=MODEL,
            settings=settings,
            cache_state=state,
            now=T0 + 10 * step,
        )
        sent = exact(result.history)
        changed = next(
            (i for i, (old, new) in enumerate(zip(previous, sent, strict=False)) if old != new),
            len(previous),
        )
        # whatever changes, no message that was compressed before is ever rewritten
        for old in previous[changed:]:
            assert "older output cleared" not in old
            assert "[Summary of" not in old
        if result.stats.outcome in {CompressionOutcome.COMPRESSED, CompressionOutcome.PARTIAL}:
            compressed_steps += 1
        else:
            assert sent[: len(previous)] == previous  # not due: the whole prefix is resent
        previous, state = sent, result.cache_state
    assert compressed_steps >= 3  # the first time, then again each time it grew back
    assert result.stats.input_tokens > 2 * result.stats.output_tokens


def test_a_cache_break_that_would_not_pay_is_not_made() -> None:
    """With payback_steps 0 no cache break pays: the raw warm prefix is resent, and said why."""
    messages = chat_conversation(10, lines=20)
    below = soft_settings(trigger_tokens=100_000)
    first = compress_messages(messages, model=MODEL, settings=below, now=T0)
    assert first.stats.outcome is CompressionOutcome.BELOW_THRESHOLD
    grown = messages + chat_conversation(12, lines=20)[-4:]
    stingy = soft_settings(payback_steps=0)
    second = compress_messages(
        grown, model=MODEL, settings=stingy, cache_state=first.cache_state, now=T0 + 5
    )
    assert second.stats.outcome is CompressionOutcome.BELOW_THRESHOLD
    assert "would not pay" in second.stats.reason
    assert exact(second.history) == exact(grown)
    paying = compress_messages(
        grown, model=MODEL, settings=soft_settings(), cache_state=first.cache_state, now=T0 + 5
    )
    assert paying.stats.outcome is CompressionOutcome.COMPRESSED


def test_cold_prefix_is_compressed_again() -> None:
    """After the TTL the cache is cold: nothing is frozen and the budget is met again."""
    messages, first = first_call()
    grown = messages + chat_conversation(12, lines=20)[-4:]
    later = T0 + DEFAULT_PROMPT_CACHE_TTL_S + 1
    second = compress_messages(
        grown, model=MODEL, settings=soft_settings(), cache_state=first.cache_state, now=later
    )
    assert second.stats.frozen_messages == 0
    assert second.stats.budget_met


def test_hard_target_may_rewrite_a_warm_prefix() -> None:
    """A hard target that the new messages alone cannot meet rewrites the prefix, and says so."""
    messages, first = first_call()
    grown = messages + chat_conversation(12, lines=20)[-4:]
    second = compress_messages(
        grown,
        model=MODEL,
        settings=soft_settings(),
        cache_state=first.cache_state,
        now=T0 + 60,
        target_tokens=3000,
    )
    assert second.stats.prefix_rewritten
    assert second.stats.frozen_messages == 0
    assert second.stats.budget_met
    assert "rewritten" in second.stats.reason


def test_replayed_prefix_counts_as_a_change_even_within_budget() -> None:
    """A warm call with nothing new to compress still returns the compressed prefix."""
    messages, first = first_call()
    second = compress_messages(
        messages,
        model=MODEL,
        settings=soft_settings(),
        target_tokens=7000,  # the compressed prefix fits: nothing new to do
        cache_state=first.cache_state,
        now=T0 + 30,
    )
    assert second.stats.outcome is CompressionOutcome.WITHIN_BUDGET
    assert second.changed
    assert exact(second.history) == exact(first.history)
    assert second.stats.tokens_saved == first.stats.tokens_saved


def test_changed_system_prompt_ends_the_prefix() -> None:
    """A different first message means the provider's cache cannot match: nothing is frozen."""
    messages, first = first_call()
    changed = [{"role": "system", "content": "A new system prompt."}, *messages[1:]]
    second = compress_messages(
        changed, model=MODEL, settings=soft_settings(), cache_state=first.cache_state, now=T0 + 5
    )
    assert second.stats.frozen_messages == 0


def test_another_model_has_a_cold_cache() -> None:
    """A cache state made for one model is never warm for another."""
    _messages, first = first_call()
    assert first.cache_state is not None
    assert not first.cache_state.is_warm("other/model", DEFAULT_PROMPT_CACHE_TTL_S, T0 + 1)
    assert first.cache_state.is_warm(MODEL, DEFAULT_PROMPT_CACHE_TTL_S, T0 + 1)


def test_model_without_prompt_caching_keeps_no_state() -> None:
    """A model billed without a cache-read price gets no cache state and no frozen prefix."""
    messages = chat_conversation(10, lines=20)
    settings = soft_settings(cache_read_per_mtok=None)
    result = compress_messages(messages, model=MODEL, settings=settings, now=T0)
    assert result.cache_state is None


async def test_agent_zero_system_parts_stay_in_the_prefix() -> None:
    """Through the Agent Zero entry point the system parts and old history are replayed."""
    system = [SYSTEM, "## Tools\n" + "a tool\n" * 30]
    history = a0_history(8, lines=20)
    settings = soft_settings()
    first = await compress_loop_prompt(system, history, model=MODEL, settings=settings, now=T0)
    grown = history + a0_history(9, lines=20)[-2:]
    second = await compress_loop_prompt(
        system, grown, model=MODEL, settings=settings, cache_state=first.cache_state, now=T0 + 10
    )
    assert second.system == system
    assert second.stats.frozen_messages == len(first.history) + 1
    assert exact(second.history[: len(first.history)]) == exact(first.history)
