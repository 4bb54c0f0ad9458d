"""Utility-model summaries: bought only when they pay, cached in the ledger, never fatal."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

from compress_support import chat_conversation, priced_settings

from agent_routing.compression import (
    UtilitySummarizer,
    acompress_messages,
    litellm_completer,
    model_profile,
)
from agent_routing.compression._utility import SUMMARY_NAMESPACE, Completer
from agent_routing.ledger.sqlite import SQLiteLedger

MODEL = "test/dear"
UTILITY = "gpt-4o-mini"
SUMMARY = "SUMMARY-OF-TURN: ran pytest, ZeroDivisionError in divide_numbers"


class CountingCompleter:
    """Wraps a completer and counts the calls that reach it."""

    def __init__(self, inner: Completer) -> None:
        self.inner = inner
        self.calls = 0

    async def __call__(self, messages: list[dict[str, str]]) -> str:
        self.calls += 1
        return await self.inner(messages)


def cached_summaries(database: Path) -> int:
    """Rows in the ledger's summary cache (read with plain sqlite3, as another process would)."""
    with closing(sqlite3.connect(database)) as connection:
        row = connection.execute(
            "SELECT COUNT(*) FROM kv_cache WHERE namespace = ?", (SUMMARY_NAMESPACE,)
        ).fetchone()
    return int(row[0])


def summarizer(ledger: SQLiteLedger | None, completer: Completer) -> UtilitySummarizer:
    return UtilitySummarizer(complete=completer, profile=model_profile(UTILITY), cache=ledger)


def mocked() -> CountingCompleter:
    return CountingCompleter(litellm_completer(UTILITY, mock_response=SUMMARY))


async def test_summaries_are_bought_once_and_then_read_from_the_ledger(tmp_path: Path) -> None:
    """The first run pays for summaries; later runs, even from a new process, reuse them."""
    messages = chat_conversation(10, lines=20)
    settings = priced_settings(summarizer="utility")
    completer = mocked()
    async with SQLiteLedger(tmp_path / "ledger.db") as ledger:
        first = await acompress_messages(
            messages,
            model=MODEL,
            settings=settings,
            summarizer=summarizer(ledger, completer),
            target_tokens=3000,
        )
    bought = first.stats.summaries
    assert bought.calls > 0
    assert bought.calls == completer.calls
    assert bought.cost_usd > 0
    assert SUMMARY in str(first.history)
    assert first.stats.budget_met
    assert cached_summaries(tmp_path / "ledger.db") == bought.calls

    async with SQLiteLedger(tmp_path / "ledger.db") as reopened:
        second = await acompress_messages(
            messages,
            model=MODEL,
            settings=settings,
            summarizer=summarizer(reopened, completer),
            target_tokens=3000,
        )
    reused = second.stats.summaries
    assert reused.cache_hits == bought.calls
    assert reused.calls == 0
    assert reused.cost_usd == 0
    assert completer.calls == bought.calls
    assert second.history == first.history


async def test_summary_costing_more_than_it_saves_is_not_bought(tmp_path: Path) -> None:
    """When the main model is cheap, a summary call would cost more than it saves: skipped."""
    messages = chat_conversation(10, lines=20)
    settings = priced_settings(input_per_mtok=0.2, summarizer="utility")
    completer = mocked()
    async with SQLiteLedger(tmp_path / "ledger.db") as ledger:
        result = await acompress_messages(
            messages,
            model=MODEL,
            settings=settings,
            summarizer=summarizer(ledger, completer),
            target_tokens=3000,
        )
    assert result.stats.summaries.skipped_uneconomic > 0
    assert result.stats.summaries.calls == 0
    assert completer.calls == 0
    assert cached_summaries(tmp_path / "ledger.db") == 0
    assert SUMMARY not in str(result.history)
    assert result.stats.budget_met


async def test_failing_summary_calls_fall_back_to_extractive_lines() -> None:
    """A utility model that errors costs nothing and the turns keep their extractive lines."""

    async def broken(messages: list[dict[str, str]]) -> str:
        raise ConnectionError("utility model unreachable")

    messages = chat_conversation(10, lines=20)
    result = await acompress_messages(
        messages,
        model=MODEL,
        settings=priced_settings(summarizer="utility"),
        summarizer=summarizer(None, broken),
        target_tokens=3000,
    )
    assert result.stats.summaries.errors > 0
    assert result.stats.summaries.cost_usd == 0
    assert result.stats.budget_met
    assert "assistant: bash(" in str(result.history)


async def test_extractive_setting_never_calls_the_utility_model() -> None:
    """With compression.summarizer: extractive a given summarizer is not used."""
    completer = mocked()
    result = await acompress_messages(
        chat_conversation(10, lines=20),
        model=MODEL,
        settings=priced_settings(summarizer="extractive"),
        summarizer=summarizer(None, completer),
        target_tokens=3000,
    )
    assert completer.calls == 0
    assert result.stats.summaries.calls == 0
