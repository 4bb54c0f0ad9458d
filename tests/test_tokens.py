"""Token counting with the tiktoken files litellm ships, matching litellm's own counter."""

from __future__ import annotations

import pytest
import tiktoken

from agent_routing import tokens
from agent_routing._litellm import litellm_module
from agent_routing.errors import ConfigError

MESSAGES = [
    {"role": "system", "content": "You are a careful assistant. Answer in one sentence."},
    {
        "role": "user",
        "content": "What is the capital of Australia, and why not Sydney?",
        "name": "ana",
    },
    {
        "role": "assistant",
        "content": [
            {"type": "text", "text": "Canberra;"},
            {"type": "text", "text": " a compromise."},
        ],
    },
    {"role": "tool", "tool_call_id": "call_42", "content": '{"ok": true}'},
]


@pytest.mark.parametrize(
    ("model", "encoding"),
    [
        ("gpt-4o", "o200k_base"),
        ("openai/gpt-4o-mini", "o200k_base"),
        ("openrouter/openai/gpt-4.1-nano", "o200k_base"),
        ("gpt-5-mini", "o200k_base"),
        ("o3-mini", "o200k_base"),
        ("azure/o4-mini", "o200k_base"),
        ("gpt-4", "cl100k_base"),
        ("gpt-3.5-turbo", "cl100k_base"),
        ("anthropic/claude-sonnet-4-20250514", "cl100k_base"),
        ("ollama/llama3", "cl100k_base"),
        (None, "cl100k_base"),
    ],
)
def test_encoding_follows_the_model_family(model: str | None, encoding: str) -> None:
    """o200k_base for the gpt-4o / gpt-4.1 / gpt-5 / o-series families, cl100k_base otherwise."""
    assert tokens.encoding_name_for(model) == encoding


def test_text_count_equals_tiktoken() -> None:
    """A text's count is exactly tiktoken's for the model's encoding."""
    text = "Routing saves money when the cheap model is good enough. " * 20
    assert tokens.count_text_tokens(text, "gpt-4o") == len(
        tiktoken.get_encoding("o200k_base").encode(text)
    )
    assert tokens.count_text_tokens(text, "gpt-4") == len(
        tiktoken.get_encoding("cl100k_base").encode(text)
    )
    assert tokens.count_text_tokens("") == 0


def test_special_token_strings_count_as_text() -> None:
    """Text containing '<|endoftext|>' is counted, not rejected as a special token."""
    assert tokens.count_text_tokens("before <|endoftext|> after", "gpt-4o") > 3


def test_both_bundled_encoders_load_from_litellms_files() -> None:
    """cl100k_base and o200k_base load from the files inside the litellm wheel."""
    directory = tokens.tokenizer_dir()
    assert directory is not None
    assert any(directory.iterdir())
    for name in tokens.ENCODINGS:
        assert tokens.get_encoding(name).name == name


@pytest.mark.parametrize("model", ["gpt-4o", "gpt-3.5-turbo"])
def test_message_count_matches_litellm_token_counter(model: str) -> None:
    """For text messages (names, list content, tool results) the count equals litellm's."""
    assert tokens.count_message_tokens(MESSAGES, model) == litellm_module().token_counter(
        model=model, messages=MESSAGES
    )


def test_message_count_is_per_message_overhead_plus_text() -> None:
    """One user message costs 3 + role + content + 3 reply-priming tokens."""
    text = "hello there"
    expected = 3 + tokens.count_text_tokens("user") + tokens.count_text_tokens(text) + 3
    assert tokens.count_message_tokens([{"role": "user", "content": text}]) == expected
    assert tokens.count_message_tokens([]) == 0


def test_tool_calls_count_name_and_arguments() -> None:
    """An assistant tool call counts its function name and its JSON arguments."""
    call = {"role": "assistant", "content": None}
    with_tool = dict(
        call,
        tool_calls=[
            {
                "id": "c1",
                "type": "function",
                "function": {"name": "search_web", "arguments": '{"q": "weather in Paris"}'},
            }
        ],
    )
    added = tokens.count_message_tokens([with_tool]) - tokens.count_message_tokens([call])
    assert added == tokens.count_text_tokens("search_web") + tokens.count_text_tokens(
        '{"q": "weather in Paris"}'
    )


def test_images_count_a_fixed_estimate_without_fetching() -> None:
    """An image part counts 85 tokens at low detail and 765 otherwise (no download)."""

    def message(detail: str) -> dict[str, object]:
        return {
            "role": "user",
            "content": [
                {
                    "type": "image_url",
                    "image_url": {"url": "https://example.invalid/a.png", "detail": detail},
                }
            ],
        }

    base = tokens.count_message_tokens([{"role": "user", "content": []}])
    assert tokens.count_message_tokens([message("low")]) - base == tokens.IMAGE_TOKENS_LOW_DETAIL
    assert tokens.count_message_tokens([message("high")]) - base == tokens.IMAGE_TOKENS_DEFAULT


@pytest.mark.parametrize(
    ("messages", "field"),
    [
        ("just a string", "messages"),
        ([{"role": "user", "content": "ok"}, "not a mapping"], "messages[1]"),
        ([{"role": "user", "content": [3]}], "messages[0].content"),
        ([{"role": "assistant", "tool_calls": [{"id": "x"}]}], "messages[0].tool_calls"),
    ],
)
def test_malformed_messages_are_refused_naming_the_place(messages: object, field: str) -> None:
    """Malformed input raises ConfigError naming where in the messages it is."""
    with pytest.raises(ConfigError) as raised:
        tokens.count_message_tokens(messages)  # type: ignore[arg-type]
    assert raised.value.problems[0][0] == field


def test_non_string_text_is_refused() -> None:
    """count_text_tokens names `text` when given something else."""
    with pytest.raises(ConfigError) as raised:
        tokens.count_text_tokens(b"bytes")  # type: ignore[arg-type]
    assert raised.value.problems[0][0] == "text"
