"""The replay measure: a transcript replayed step by step, priced with prompt-cache prices."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from compress_support import chat_conversation, priced_settings

from agent_routing.cli import main
from agent_routing.compression import ModelProfile, profile_for
from agent_routing.compression._replay import (
    CacheBiller,
    Messages,
    policy_sender,
    replay,
    step_ends,
)
from agent_routing.compression.tokenize import token_counter

MODEL = "test/dear"
# Anthropic-like: input $3/M, cache read $0.30/M, cache write $3.75/M
PROFILE = ModelProfile(
    "m",
    input_cost_per_token=3e-6,
    output_cost_per_token=15e-6,
    cache_read_cost_per_token=0.3e-6,
    cache_write_cost_per_token=3.75e-6,
    prompt_cache_ttl_s=300.0,
)


def message(role: str, text: str) -> dict[str, Any]:
    return {"role": role, "content": text}


def test_steps_end_before_each_assistant_reply() -> None:
    """Step k sends what came before the k-th reply; a trailing observation is one more step."""
    messages = [
        message("system", "s"),
        message("user", "task"),
        message("assistant", "a1"),
        message("tool", "o1"),
        message("assistant", "a2"),
        message("tool", "o2"),
    ]
    assert step_ends(messages) == [2, 4, 6]
    assert step_ends(messages[:5]) == [2, 4]


def test_an_unchanged_prefix_is_a_cache_read_and_the_rest_a_cache_write() -> None:
    """Second prompt = first + one message: the first part at the read price, the new at write."""
    count = token_counter("gpt-4o")
    biller = CacheBiller(PROFILE, count)
    first = [message("system", "You are terse."), message("user", "Sum 2 and 3.")]
    usd, tokens = biller.bill(first)
    assert usd == pytest.approx(tokens * 3.75e-6)
    second = [*first, message("assistant", "5")]
    usd, total = biller.bill(second)
    new = total - tokens
    assert usd == pytest.approx(tokens * 0.3e-6 + new * 3.75e-6)
    changed = [message("system", "You are verbose."), *second[1:]]
    usd, total = biller.bill(changed)
    assert usd == pytest.approx(total * 3.75e-6)  # first message differs: no cache read


def test_a_model_without_a_cache_read_price_pays_the_input_price_throughout() -> None:
    """No cache-read price below the input price: every token at the input price."""
    count = token_counter("gpt-4o")
    plain = ModelProfile("m", input_cost_per_token=2e-6, output_cost_per_token=8e-6)
    biller = CacheBiller(plain, count)
    prompt = [message("user", "hello there")]
    biller.bill(prompt)
    usd, tokens = biller.bill([*prompt, message("assistant", "hi")])
    assert usd == pytest.approx(tokens * 2e-6)


def test_replaying_without_compression_costs_the_same_as_uncompressed() -> None:
    """A method that sends each prompt as it is has a cost ratio of exactly 1."""
    messages = chat_conversation(8, lines=20)

    def identity(prompt: Messages, state: Any, now: float) -> tuple[Messages, Any]:
        return prompt, None

    cost = replay(messages, identity, PROFILE, token_counter("gpt-4o"))
    assert cost.steps == 9  # before each of the 8 replies, and the last observation
    assert cost.usd == cost.plain_usd > 0
    assert cost.ratio == 1.0


def test_the_policy_lowers_the_cost_of_a_long_run_at_a_quarter_read_price() -> None:
    """A 30-step run at OpenAI-like prices (read = input / 4): the policy costs less."""
    settings = priced_settings(cache_read_per_mtok=0.75, trigger_tokens=3000, trigger_usd=0)
    profile = profile_for(MODEL, settings)
    count = token_counter(MODEL)
    messages = chat_conversation(30, lines=20)
    send = policy_sender(model=MODEL, settings=settings, profile=profile, count=count)
    cost = replay(messages, send, profile, count)
    assert cost.steps == 31
    assert cost.tokens < cost.plain_tokens
    assert cost.ratio < 0.8


def test_cli_json_reports_the_replay_cost_ratio(tmp_path: Path) -> None:
    """compress --json carries replay_cost_ratio and costs, in total and per transcript."""
    path = tmp_path / "runs.jsonl"
    runs = [{"id": f"run-{n}", "messages": chat_conversation(n, lines=30)} for n in (4, 30)]
    path.write_text("\n".join(json.dumps(run) for run in runs), encoding="utf-8")
    result = CliRunner().invoke(main, ["compress", str(path), "--model", "gpt-4.1", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["replay_steps"] == 5 + 31
    assert report["replay_cost_ratio"] == round(
        report["replay_usd"] / report["replay_uncompressed_usd"], 4
    )
    short, long = report["per_transcript"]
    assert short["replay_cost_ratio"] == 1.0  # below the 8,000-token trigger throughout
    assert short["outcome"] == "below_threshold"
    assert long["input_tokens"] > 8000
    assert long["replay_cost_ratio"] < 1.0
    assert long["reduction"] >= 0.4
