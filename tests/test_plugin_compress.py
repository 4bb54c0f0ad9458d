"""Utility-model summaries inside Agent Zero: bought through the host, cached, never fatal."""

from __future__ import annotations

import itertools
import sqlite3
from contextlib import closing
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from fakehost import FakeHost, fake_host, respond, tool_call

from agent_routing.compression._utility import SUMMARY_INSTRUCTIONS, SUMMARY_NAMESPACE
from agent_routing.config import settings_from_mapping
from agent_routing.host.compress import summary_model
from agent_routing.records import Outcome

__all__ = ["fake_host"]

SUMMARY_MARK = SUMMARY_INSTRUCTIONS.split("{")[0]  # the fixed start of the summary prompt
STEPS = 4
EXTRACTIVE_HEADER = "[Summary of"
MARKS = (EXTRACTIVE_HEADER, "[older output cleared")


def step(number: int) -> str:
    """A tool call whose code (and so its echoed result) is long and unique to this step."""
    files = " ".join(f"check_{number}_{item}.log" for item in range(120))
    return tool_call("code_execution_tool", code=f"step {number}: {files}")


def is_summary_call(messages: list[dict[str, Any]]) -> bool:
    return bool(messages) and str(messages[0]["content"]).startswith(SUMMARY_MARK)


class UtilityModel:
    """The provider's answers to summary requests (numbered), or an error for each."""

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.sources: list[str] = []  # the turn text of each summary request, in order

    def __call__(self, model: str, messages: list[dict[str, Any]]) -> Any:
        from models import utility_reply

        if not is_summary_call(messages):
            return utility_reply(model, messages)
        self.sources.append(str(messages[-1]["content"]))
        if self.fail:
            error = RuntimeError("utility model unavailable")
            error.status_code = 400  # type: ignore[attr-defined]  # not retried by the host
            return error
        return f"SUMMARY-{len(self.sources)}: ran step, listed its log files"


def run_steps(host: FakeHost, utility: UtilityModel, compression: dict[str, Any]) -> None:
    host.provider.default = utility
    host.configure(
        {
            "router": {"enabled": False},
            "compression": {"keep_recent_turns": 1, "summarizer": "utility", **compression},
        }
    )
    host.provider.script_main(*[step(n) for n in range(STEPS)], respond("done"))


LOW_TRIGGER = {"trigger_tokens": 1000, "trigger_usd": 0, "target_ratio": 0.1}


def main_prompts(host: FakeHost) -> list[str]:
    return [str(call.messages) for call in host.provider.main_calls()]


def cached_summaries(host: FakeHost) -> int:
    from agent_routing.host._runtime import get_runtime

    path = get_runtime(None).settings.ledger.resolved_path()
    with closing(sqlite3.connect(Path(path))) as connection:
        row = connection.execute(
            "SELECT COUNT(*) FROM kv_cache WHERE namespace = ?", (SUMMARY_NAMESPACE,)
        ).fetchone()
    return int(row[0])


async def test_a_dear_main_model_gets_utility_summaries_bought_once_each(
    fake_host: FakeHost,
) -> None:
    """Folded turns carry the utility model's summary; later iterations reuse it from the cache.

    Each iteration folds one more old turn. Every turn is summarized exactly once, through
    the host's utility model (one `summarization` row each in the ledger), and every later
    prompt still shows the earlier summaries: they came from the ledger's cache.
    """
    fake_host.configure_models(chat_model={"provider": "openai", "name": "gpt-4"})  # $30/M
    utility = UtilityModel()
    run_steps(fake_host, utility, LOW_TRIGGER)
    assert await fake_host.send(fake_host.new_context(), "Check the worker logs.") == "done"

    prompts = main_prompts(fake_host)
    assert len(prompts) == STEPS + 1
    folded = [p for p in prompts if "SUMMARY-1" in p]
    assert len(folded) == STEPS - 1  # from the third prompt on, every prompt has it
    assert all(f"SUMMARY-{n}" in prompts[-1] for n in range(1, STEPS))
    assert len(utility.sources) == STEPS - 1  # one call per folded turn, never a second one
    assert len(set(utility.sources)) == len(utility.sources)
    assert cached_summaries(fake_host) == STEPS - 1

    ledger = await fake_host.ledger()
    rows = ledger.calls_of("summarization")
    assert len(rows) == STEPS - 1
    assert {(row.model, row.outcome) for row in rows} == {("openai/gpt-4o-mini", Outcome.OK)}
    last = ledger.calls_of("chat")[-1]
    assert last.tokens_saved is not None
    assert last.tokens_saved > 3000


async def test_a_failing_utility_call_falls_back_to_the_extractive_line(
    fake_host: FakeHost,
) -> None:
    """The utility model errors on every summary: turns fold extractively, the task finishes."""
    fake_host.configure_models(chat_model={"provider": "openai", "name": "gpt-4"})
    utility = UtilityModel(fail=True)
    run_steps(fake_host, utility, LOW_TRIGGER)
    assert await fake_host.send(fake_host.new_context(), "Check the worker logs.") == "done"

    assert utility.sources  # the summaries were asked for
    prompts = main_prompts(fake_host)
    assert EXTRACTIVE_HEADER in prompts[-1]
    assert "check_0_0.log" in prompts[-1]  # the extractive line keeps the turn's items
    assert not any("SUMMARY-" in p for p in prompts)
    assert cached_summaries(fake_host) == 0  # nothing is cached from a failure
    ledger = await fake_host.ledger()
    assert ledger.calls_of("summarization")
    assert all(row.outcome is not Outcome.OK for row in ledger.calls_of("summarization"))
    assert ledger.calls_of("chat")[-1].tokens_saved


async def test_a_cheap_main_model_gets_no_summary_call(fake_host: FakeHost) -> None:
    """On gpt-4o-mini a summary costs more than the tokens it saves: folding stays extractive."""
    fake_host.configure_models(chat_model={"provider": "openai", "name": "gpt-4o-mini"})
    utility = UtilityModel()
    run_steps(
        fake_host,
        utility,
        {
            **LOW_TRIGGER,  # compress even this cheap a model, and this small a prompt
            "prompt_cache_ttl_s": 0.001,  # its prompt cache is always cold: old turns fold
        },
    )
    assert await fake_host.send(fake_host.new_context(), "Check the worker logs.") == "done"

    assert utility.sources == []
    assert EXTRACTIVE_HEADER in main_prompts(fake_host)[-1]
    assert (await fake_host.ledger()).calls_of("summarization") == []


def host_agent(chat: str, utility: str) -> Any:
    """Just enough of an Agent Zero agent for `summary_model`: its two model objects."""
    return SimpleNamespace(
        get_chat_model=lambda: SimpleNamespace(model_name=chat),
        get_utility_model=lambda: SimpleNamespace(model_name=utility),
    )


def test_summary_calls_are_priced_at_the_model_the_router_will_send_them_to() -> None:
    """The default rule sends summarization to the cheapest tier; router off: the utility model."""
    agent = host_agent("openai/gpt-4o", "openai/gpt-4o-mini")
    assert summary_model(agent, settings_from_mapping({})) == "openai/gpt-4o-mini"
    tiers = [
        {"name": "small", "model": "gpt-4.1-nano"},
        {"name": "big", "model": "claude-sonnet-4-20250514"},
    ]
    assert summary_model(agent, settings_from_mapping({"tiers": tiers})) == "gpt-4.1-nano"
    pinned = {
        "tiers": tiers,
        "router": {"rules": [{"kinds": ["summarization"], "tier": "big"}]},
    }
    assert summary_model(agent, settings_from_mapping(pinned)) == "claude-sonnet-4-20250514"
    off = {"tiers": tiers, "router": {"enabled": False}}
    assert summary_model(agent, settings_from_mapping(off)) == "openai/gpt-4o-mini"


async def test_default_settings_compress_a_growing_agent_loop_again_and_again(
    fake_host: FakeHost,
) -> None:
    """No compression settings, gpt-4.1: from about 8k tokens old outputs are cleared, the
    cleared messages are resent byte for byte, and the prompt is compressed again as it grows.
    """
    fake_host.configure_models(chat_model={"provider": "openai", "name": "gpt-4.1"})
    fake_host.configure({"router": {"enabled": False}})  # compression: all defaults
    steps = 16
    fake_host.provider.script_main(*[step(n) for n in range(steps)], respond("done"))
    assert await fake_host.send(fake_host.new_context(), "Check the worker logs.") == "done"

    prompts = [call.messages for call in fake_host.provider.main_calls()]
    assert len(prompts) == steps + 1
    compressed = [  # messages compression wrote: cleared outputs and summaries of old turns
        [str(m["content"]) for m in prompt if any(mark in str(m["content"]) for mark in MARKS)]
        for prompt in prompts
    ]
    assert compressed[:4] == [[], [], [], []]  # small prompts go out as they are
    counts = [len(messages) for messages in compressed]
    grew = [n for n, (a, b) in enumerate(itertools.pairwise(counts)) if b > a]
    assert len(grew) >= 3  # compressed at the trigger, then again each time it grew back
    for earlier, later in itertools.pairwise(compressed):
        assert later[: len(earlier)] == earlier  # what was compressed is resent unchanged
    rows = (await fake_host.ledger()).calls_of("chat")
    assert max(row.tokens_saved or 0 for row in rows) > 2000
