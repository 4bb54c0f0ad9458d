"""Compressing chat message lists: budgets, protected turns, thresholds, savings, bad input."""

from __future__ import annotations

import copy

import pytest
from compress_support import chat_conversation, priced_settings, tool_output

from agent_routing.compression import CompressionOutcome, ModelProfile, compress_messages
from agent_routing.compression._codecs import ChatCodec
from agent_routing.compression._identifiers import items_in
from agent_routing.compression._layout import recent_start
from agent_routing.compression._masking import MAX_KEPT_LINES
from agent_routing.compression._metrics import rendered_text
from agent_routing.compression._policy import plan_compression, trigger_tokens_for
from agent_routing.config import CompressionSettings
from agent_routing.errors import ConfigError, UnknownModelError

MODEL = "test/dear"


def last_turns(messages: list[dict[str, object]], turns: int = 3) -> list[dict[str, object]]:
    codec = ChatCodec()
    return messages[recent_start([codec.decode(m) for m in messages], turns) :]


def test_budget_is_met_and_savings_add_up() -> None:
    """Over an explicit target, the result fits it and tokens and dollars saved agree."""
    messages = chat_conversation(10, lines=20)
    settings = priced_settings(input_per_mtok=3.0)
    result = compress_messages(messages, model=MODEL, settings=settings, target_tokens=3000)
    stats = result.stats
    assert stats.outcome is CompressionOutcome.COMPRESSED
    assert stats.budget_met
    assert stats.output_tokens <= 3000 < stats.input_tokens
    assert stats.tokens_saved == stats.input_tokens - stats.output_tokens
    assert stats.usd_saved == pytest.approx(stats.tokens_saved * 3.0 / 1e6)
    assert result.changed


def test_recent_turns_are_returned_unchanged() -> None:
    """The last three turns come back equal to the input, however tight the budget."""
    messages = chat_conversation(8)
    result = compress_messages(
        messages, model=MODEL, settings=priced_settings(), target_tokens=2500
    )
    assert result.history[-6:] == last_turns(messages)
    assert result.history[:2] == messages[:2]  # system prompt and task too


def test_unreachable_budget_says_why() -> None:
    """When the recent turns alone exceed the budget, the result says so and nothing breaks."""
    messages = chat_conversation(3, lines=200)
    result = compress_messages(messages, model=MODEL, settings=priced_settings(), target_tokens=500)
    assert not result.stats.budget_met
    assert result.stats.outcome is CompressionOutcome.UNREACHABLE
    assert "the most recent turns" in result.stats.reason
    assert "500" in result.stats.reason
    assert result.history == messages


def test_one_old_message_larger_than_the_whole_budget_is_cut_down() -> None:
    """A single old output bigger than the budget is elided or folded until the prompt fits."""
    messages = chat_conversation(4, lines=10)
    messages[3] = {**messages[3], "content": tool_output(0, 2000)}
    result = compress_messages(
        messages, model=MODEL, settings=priced_settings(), target_tokens=2500
    )
    assert result.stats.budget_met
    assert result.history[-6:] == messages[-6:]


def test_empty_history_is_a_clear_outcome() -> None:
    """No messages (or only a system prompt) gives EMPTY, never an error."""
    for messages in ([], [{"role": "system", "content": "be brief"}]):
        result = compress_messages(
            messages, model=MODEL, settings=priced_settings(), target_tokens=10
        )
        assert result.stats.outcome is CompressionOutcome.EMPTY
        assert result.history == messages
        assert not result.changed


def test_cheap_model_is_not_compressed() -> None:
    """Below compression.min_input_cost_per_mtok the prompt goes out unchanged."""
    messages = chat_conversation(12)
    settings = priced_settings(
        input_per_mtok=0.1, min_input_cost_per_mtok=0.5, trigger_tokens=100, trigger_usd=0
    )
    result = compress_messages(messages, model=MODEL, settings=settings)
    assert result.stats.outcome is CompressionOutcome.BELOW_THRESHOLD
    assert "min_input_cost_per_mtok" in result.stats.reason
    assert result.history == messages
    assert result.stats.tokens_saved == 0


def test_a_cheap_model_needs_a_larger_prompt_to_reach_the_dollar_trigger() -> None:
    """At $0.10/M a prompt that fires for a $3/M model costs too little: it goes out unchanged."""
    messages = chat_conversation(12, lines=60)
    dear = compress_messages(messages, model=MODEL, settings=priced_settings(trigger_usd=0.01))
    assert dear.stats.input_tokens * 3e-6 >= 0.01
    assert dear.stats.outcome is CompressionOutcome.COMPRESSED
    cheap = priced_settings(input_per_mtok=0.1, trigger_usd=0.01)
    result = compress_messages(messages, model=MODEL, settings=cheap)
    assert result.stats.outcome is CompressionOutcome.BELOW_THRESHOLD
    assert "compression.trigger_usd ($0.01), i.e. 100,000 tokens" in result.stats.reason
    assert result.history == messages


def test_small_prompt_is_not_compressed() -> None:
    """Below compression.trigger_tokens the prompt goes out unchanged, whatever the price."""
    messages = chat_conversation(2)
    settings = priced_settings(input_per_mtok=75.0, trigger_usd=0)
    result = compress_messages(messages, model=MODEL, settings=settings)
    assert result.stats.outcome is CompressionOutcome.BELOW_THRESHOLD
    assert "compression.trigger_tokens (4,000)" in result.stats.reason
    assert result.history == messages


def test_default_trigger_fires_at_eight_thousand_tokens_for_two_dollars_per_million() -> None:
    """plan_compression with the defaults: 7,999 tokens at $2/M wait, 8,000 are compressed."""
    profile = ModelProfile("m", input_cost_per_token=2e-6, output_cost_per_token=8e-6)
    defaults = CompressionSettings()
    assert trigger_tokens_for(profile, defaults) == 8000
    assert plan_compression(profile, defaults, 7999).skip is CompressionOutcome.BELOW_THRESHOLD
    due = plan_compression(profile, defaults, 8000)
    assert (due.skip, due.budget, due.hard) == (None, 4000, False)
    dearer = ModelProfile("m", input_cost_per_token=3e-6, output_cost_per_token=15e-6)
    assert trigger_tokens_for(dearer, defaults) == 5334


def test_a_prompt_past_the_trigger_is_compressed_to_the_target_ratio() -> None:
    """Past the trigger the budget is target_ratio x the prompt, and it is met."""
    messages = chat_conversation(10)
    size = compress_messages(messages, model=MODEL, settings=priced_settings()).stats.input_tokens
    settings = priced_settings(trigger_tokens=size - 1, trigger_usd=0, target_ratio=0.4)
    result = compress_messages(messages, model=MODEL, settings=settings)
    assert result.stats.outcome is CompressionOutcome.COMPRESSED
    assert result.stats.budget_tokens == int(0.4 * size)
    assert result.stats.output_tokens <= int(0.4 * size)


def test_old_tool_outputs_are_cleared_first_keeping_what_later_turns_name() -> None:
    """Observation masking: old outputs become a note with the lines later turns refer to."""
    messages = chat_conversation(10, lines=40)
    settings = priced_settings(trigger_tokens=1000, trigger_usd=0)
    result = compress_messages(messages, model=MODEL, settings=settings)
    steps = {step.name: step for step in result.stats.steps}
    assert steps["mask_old_outputs"].messages_changed > 0
    assert len(result.history) == len(messages)  # nothing folded: masking met the budget
    masked = [
        (out, original)
        for out, original in zip(result.history, messages, strict=True)
        if "older output cleared" in str(out.get("content"))
    ]
    assert len(masked) == 7  # every tool output but those of the last three turns
    for position, (out, original) in enumerate(masked):
        later = items_in(rendered_text(messages[3 + 2 * position + 1 :]))  # after this output
        first, note, *kept = out["content"].splitlines()
        assert first == original["content"].splitlines()[0]
        assert note.startswith("[older output cleared to save context: ")
        assert 0 < len(kept) <= MAX_KEPT_LINES
        assert all(line in original["content"].splitlines() for line in kept)
        assert all(any(item in later for item in items_in(line)) for line in kept)
        assert any("ZeroDivisionError" in line for line in kept)  # named later, an error line
    assert result.history[-6:] == messages[-6:]  # the last three turns are untouched


def test_prompt_already_within_the_explicit_target_is_left_alone() -> None:
    """A hard target the prompt already meets: nothing to do, the prompt goes out as is."""
    messages = chat_conversation(6)
    size = compress_messages(messages, model=MODEL, settings=priced_settings()).stats.input_tokens
    result = compress_messages(
        messages, model=MODEL, settings=priced_settings(), target_tokens=size + 1
    )
    assert result.stats.outcome is CompressionOutcome.WITHIN_BUDGET
    assert result.history == messages


def test_explicit_target_applies_even_to_a_cheap_model() -> None:
    """The router's compress_to_tokens is honoured whatever the price."""
    messages = chat_conversation(10, lines=20)
    settings = priced_settings(input_per_mtok=0.01, window=1_000_000)
    result = compress_messages(messages, model=MODEL, settings=settings, target_tokens=3000)
    assert result.stats.budget_met
    assert result.stats.output_tokens <= 3000


def test_prompt_over_the_context_window_is_compressed_whatever_the_price() -> None:
    """A prompt that would not fit is cut to target_fullness of the window, cheap or not."""
    messages = chat_conversation(10, lines=20)
    settings = priced_settings(input_per_mtok=0.01, window=5000, target_fullness=0.8)
    result = compress_messages(messages, model=MODEL, settings=settings)
    assert "exceeds the 5,000-token context window" in result.stats.reason
    assert result.stats.output_tokens <= 4000


def test_disabled_compression_changes_nothing() -> None:
    """compression.enabled: false returns the input, even with an explicit target."""
    messages = chat_conversation(10)
    settings = priced_settings(enabled=False)
    result = compress_messages(messages, model=MODEL, settings=settings, target_tokens=100)
    assert result.stats.outcome is CompressionOutcome.DISABLED
    assert result.history == messages


@pytest.mark.parametrize("target", [0, -5])
def test_bad_target_names_the_argument(target: int) -> None:
    """A non-positive target raises ConfigError naming target_tokens and the value."""
    with pytest.raises(ConfigError) as caught:
        compress_messages(
            chat_conversation(2), model=MODEL, settings=priced_settings(), target_tokens=target
        )
    assert caught.value.problems[0][0] == "target_tokens"
    assert str(target) in caught.value.problems[0][1]


def test_unknown_model_names_the_model() -> None:
    """An unpriced model raises UnknownModelError naming it."""
    with pytest.raises(UnknownModelError, match="no-such/model-xyz"):
        compress_messages(chat_conversation(2), model="no-such/model-xyz", target_tokens=10)


def test_input_messages_are_never_modified() -> None:
    """Compression returns new messages; the caller's list and dicts stay as they were."""
    messages = chat_conversation(10)
    messages[3]["extra"] = {"nested": [1, {"deep": True}]}
    before = copy.deepcopy(messages)
    result = compress_messages(
        messages, model=MODEL, settings=priced_settings(), target_tokens=2000
    )
    assert messages == before
    assert result.history is not messages
    assert all(out is not original for out, original in zip(result.history, messages, strict=False))


def test_past_reasoning_and_tool_calls_survive_in_the_right_form() -> None:
    """Past replies lose <think> blocks but keep their tool calls; recent ones keep both."""
    messages = chat_conversation(6, lines=5)
    size = compress_messages(messages, model=MODEL, settings=priced_settings()).stats.input_tokens
    result = compress_messages(
        messages, model=MODEL, settings=priced_settings(), target_tokens=size - 20
    )
    assert [s.name for s in result.stats.steps] == ["drop_reasoning"]
    first_reply = result.history[2]
    assert first_reply["content"] == "Running the tests for step 0."
    assert first_reply["tool_calls"] == messages[2]["tool_calls"]
    assert "<think>" in str(result.history[-2]["content"])


def test_image_content_is_counted_and_never_rewritten() -> None:
    """A message with an image part keeps its parts; only folding may drop it as a whole."""
    messages = chat_conversation(6)
    image = {
        "role": "user",
        "content": [
            {"type": "text", "text": "Here is the screenshot " + "detail " * 400},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
        ],
    }
    messages.insert(4, image)
    result = compress_messages(
        messages, model=MODEL, settings=priced_settings(), target_tokens=5000
    )
    kept = [m for m in result.history if isinstance(m.get("content"), list)]
    assert kept in ([], [image])
