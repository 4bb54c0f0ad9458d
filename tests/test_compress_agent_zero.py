"""The Agent Zero entry point: new objects only, odd content handled, never an exception."""

from __future__ import annotations

import copy
import json
from typing import Any

from compress_support import SYSTEM, a0_history, chat_conversation, priced_settings

from agent_routing.compression import CompressionOutcome, compress_loop_prompt, compress_messages
from agent_routing.tokens import TOKENS_PER_MESSAGE, count_message_tokens, count_text_tokens

MODEL = "test/dear"


def image_message() -> dict[str, Any]:
    return {
        "ai": False,
        "content": {"raw_content": "iVBORw0KGgo" * 500, "preview": "<image a.png>"},
    }


async def test_host_objects_are_not_mutated() -> None:
    """Deep-equal before and after: history dicts, nested content, system list, images."""
    system = [SYSTEM, "## Tools\n" + "tool description\n" * 50]
    history = a0_history(10)
    history.insert(5, image_message())
    history.insert(7, {"ai": False, "content": ["a list", {"of": ["nested", "parts"]}]})
    system_before, history_before = copy.deepcopy(system), copy.deepcopy(history)
    result = await compress_loop_prompt(
        system, history, model=MODEL, settings=priced_settings(), target_tokens=4000
    )
    assert result.changed
    assert system == system_before
    assert history == history_before
    assert result.system == system
    assert result.system is not system
    assert result.history is not history
    assert all(out is not message for out, message in zip(result.history, history, strict=False))


async def test_changed_content_is_a_new_object_and_unchanged_content_is_shared() -> None:
    """A rewritten tool result is a new dict with its other keys; recent content is passed on."""
    history = a0_history(8)
    result = await compress_loop_prompt(
        [SYSTEM], history, model=MODEL, settings=priced_settings(), target_tokens=10_000
    )
    elided = [
        (out, original)
        for out, original in zip(result.history, history, strict=False)
        if isinstance(out["content"], dict)
        and "older output cleared" in str(out["content"].get("tool_result", ""))
    ]
    assert elided
    for out, original in elided:
        assert out["content"] is not original["content"]
        assert out["content"]["meta"] == original["content"]["meta"]
        assert out["content"]["tool_name"] == "code_execution_tool"
    assert result.history[-1]["content"] is history[-1]["content"]


def host_prompt_tokens(system: list[str], history: list[Any]) -> int:
    """Tokens of the prompt as Agent Zero sends it: dict content as `json.dumps` (§8.3)."""
    total = count_text_tokens("\n\n".join(system)) + TOKENS_PER_MESSAGE
    for message in history:
        content = message["content"]
        text = content if isinstance(content, str) else json.dumps(content, ensure_ascii=False)
        total += count_text_tokens(text) + TOKENS_PER_MESSAGE
    return total


async def test_tokens_saved_equals_the_real_reduction_of_the_prompt_the_host_sends() -> None:
    """tokens_saved is exactly what the host's rendering shrinks by (it was ~4-10 % low)."""
    system = [SYSTEM]
    history = a0_history(12)
    history[4]["content"]["tool_result"] += '\n"quoted" \\ path\tand tabs é' * 40
    result = await compress_loop_prompt(
        system, history, model=MODEL, settings=priced_settings(), target_tokens=3000
    )
    assert result.changed
    before = host_prompt_tokens(system, history)
    after = host_prompt_tokens(result.system, result.history)
    assert result.stats.input_tokens == before
    assert result.stats.output_tokens == after
    assert result.stats.tokens_saved == before - after


def test_chat_tokens_saved_equals_the_change_in_count_message_tokens() -> None:
    """For chat messages tokens_saved is the difference agent_routing.tokens counts."""
    messages = chat_conversation(12, lines=30)
    result = compress_messages(
        messages, model=MODEL, settings=priced_settings(), target_tokens=2500
    )
    saved = count_message_tokens(messages) - count_message_tokens(result.history)
    assert result.stats.tokens_saved == saved > 0


async def test_past_replies_lose_their_thoughts() -> None:
    """An old Agent Zero reply keeps tool name and arguments but not `thoughts`."""
    history = a0_history(6, lines=5)
    size = (
        await compress_loop_prompt([SYSTEM], history, model=MODEL, settings=priced_settings())
    ).stats.input_tokens
    result = await compress_loop_prompt(
        [SYSTEM], history, model=MODEL, settings=priced_settings(), target_tokens=size - 30
    )
    reply = json.loads(result.history[1]["content"])
    assert "thoughts" not in reply
    assert reply["tool_args"]["code"] == "pytest tests/test_calc_0.py"
    assert "thoughts" in json.loads(result.history[-2]["content"])


async def test_images_are_never_rewritten() -> None:
    """A raw image message is passed on as it is, or folded away whole with its turn."""
    history = a0_history(8)
    image = image_message()
    history.insert(4, image)
    result = await compress_loop_prompt(
        [SYSTEM], history, model=MODEL, settings=priced_settings(), target_tokens=3000
    )
    images = [
        m
        for m in result.history
        if isinstance(m["content"], dict) and "raw_content" in m["content"]
    ]
    assert images in ([], [image])
    if images:
        assert images[0]["content"] is image["content"]


async def test_unknown_model_is_an_outcome_not_an_exception() -> None:
    """An unpriced model returns the prompt unchanged with UNKNOWN_MODEL naming the model."""
    history = a0_history(3)
    result = await compress_loop_prompt(
        [SYSTEM], history, model="no-such/model-xyz", settings=priced_settings()
    )
    assert result.stats.outcome is CompressionOutcome.UNKNOWN_MODEL
    assert "no-such/model-xyz" in result.stats.reason
    assert result.history == history
    assert not result.changed


async def test_bad_arguments_fail_open() -> None:
    """A bad target fails open: FAILED outcome naming the argument, prompt unchanged."""
    history = a0_history(3)
    result = await compress_loop_prompt(
        [SYSTEM], history, model=MODEL, settings=priced_settings(), target_tokens=-1
    )
    assert result.stats.outcome is CompressionOutcome.FAILED
    assert "target_tokens" in result.stats.reason
    assert result.history == history


async def test_odd_messages_are_carried_through() -> None:
    """Messages that are not dicts, or hold None or numbers, are counted and passed on."""
    history: list[Any] = [
        *a0_history(6),
        "a bare string",
        {"ai": False, "content": None},
        {"ai": True, "content": 42},
    ]
    result = await compress_loop_prompt(
        [SYSTEM], history, model=MODEL, settings=priced_settings(), target_tokens=2500
    )
    assert result.stats.outcome in (CompressionOutcome.COMPRESSED, CompressionOutcome.PARTIAL)
    assert result.history[-3:] == history[-3:]


async def test_empty_history() -> None:
    """No history: EMPTY, the system parts come back as a new equal list."""
    result = await compress_loop_prompt(
        [SYSTEM], [], model=MODEL, settings=priced_settings(), target_tokens=10
    )
    assert result.stats.outcome is CompressionOutcome.EMPTY
    assert result.system == [SYSTEM]
    assert result.history == []


async def test_extra_prompt_parts_count_towards_the_budget() -> None:
    """Tokens the caller sends but does not pass (extras) are in the totals and the reason."""
    history = a0_history(2, lines=5)
    result = await compress_loop_prompt(
        [SYSTEM],
        history,
        model=MODEL,
        settings=priced_settings(),
        target_tokens=1000,
        extra_prompt_tokens=5000,
    )
    assert result.stats.input_tokens > 5000
    assert not result.stats.budget_met
    assert "other prompt parts (5,000)" in result.stats.reason
