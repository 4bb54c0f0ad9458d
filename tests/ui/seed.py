"""A seeded ledger for the UI tests and the dashboard benchmark: real records, real SQLite.

`seed_ledger(path, calls=N)` writes N calls spread over the last `days` days (four priced
models, one unpriced local model; chat, utility, memory, embedding and title calls; a few
tools; `chats` conversations), one routing decision per routed chat call (candidates with
the strong tier's estimate, as the router stores them), some fallback hops, compression
savings, errors and blocked calls. Deterministic for a given `seed`.
"""

from __future__ import annotations

import asyncio
import random
import time
from pathlib import Path

from agent_routing.config import LedgerSettings
from agent_routing.ledger import ledger_for
from agent_routing.pricing import cost_usd, unit_prices
from agent_routing.records import CallRecord, DecisionRecord, Outcome, Usage, UsageSource

DAY = 86_400.0
CHEAP, STRONG = "gpt-4o-mini", "gpt-4o"
UNPRICED = "ollama/my-local-llama"
MODELS = (CHEAP, STRONG, "claude-3-5-haiku-20241022", "text-embedding-3-small", UNPRICED)
TOOLS = (None, "code_execution_tool", "search_engine", "memory_load", "document_query")


def _record(rng: random.Random, number: int, now: float, days: int, chats: int) -> CallRecord:
    kind = rng.choices(
        ["chat", "utility", "memory", "embedding", "title"], weights=[50, 20, 15, 10, 5]
    )[0]
    if kind == "embedding":
        model = "text-embedding-3-small"
    elif kind == "chat":
        model = rng.choices([CHEAP, STRONG, UNPRICED], weights=[60, 35, 5])[0]
    else:
        model = rng.choices([CHEAP, "claude-3-5-haiku-20241022"], weights=[80, 20])[0]
    started = now - rng.random() * days * DAY
    usage = Usage(
        input_tokens=rng.randint(1100, 12_000),
        output_tokens=0 if kind == "embedding" else rng.randint(20, 900),
        cached_read_tokens=rng.choice([0, 0, 1024]),
    )
    outcome = rng.choices([Outcome.OK, Outcome.ERROR, Outcome.BLOCKED], weights=[96, 3, 1])[0]
    prices = None if model == UNPRICED else unit_prices(model)
    cost = cost_usd(usage, prices) if prices is not None and outcome == Outcome.OK else None
    saved = rng.randint(500, 4000) if kind == "chat" and rng.random() < 0.2 else None
    return CallRecord(
        id=f"call-{number:07d}",
        started_at=started,
        ended_at=started + 1.5,
        latency_ms=1500.0,
        model=model,
        provider="ollama" if model == UNPRICED else "openai",
        call_kind=kind,
        conversation_id=f"chat{rng.randrange(chats):04d}" if kind != "embedding" else None,
        agent_no=0,
        tool=rng.choice(TOOLS) if kind == "chat" else None,
        decision_id=f"dec-{number:07d}" if kind == "chat" and model != UNPRICED else None,
        tier={CHEAP: "cheap", STRONG: "strong"}.get(model) if kind == "chat" else None,
        attempt=1 if kind == "chat" and rng.random() < 0.02 else 0,
        stream=kind == "chat",
        outcome=outcome,
        usage=usage if outcome == Outcome.OK else None,
        usage_source=UsageSource.PROVIDER if outcome == Outcome.OK else None,
        prices=prices,
        cost_usd=cost,
        tokens_saved=saved,
        usd_saved=(saved * prices.input) if saved and prices else None,
    )


def _decision(call: CallRecord) -> DecisionRecord:
    tokens = call.usage.input_tokens if call.usage else 1000
    return DecisionRecord(
        id=str(call.decision_id),
        created_at=call.started_at - 0.01,
        conversation_id=call.conversation_id,
        agent_no=0,
        call_kind=call.call_kind,
        strategy="balanced",
        chosen_tier=call.tier,
        chosen_model=call.model,
        configured_model=STRONG,
        score=0.4,
        candidates=[
            {"tier": "cheap", "model": CHEAP, "estimated_cost_usd": tokens * 0.15e-6},
            {"tier": "strong", "model": STRONG, "estimated_cost_usd": tokens * 2.5e-6},
        ],
        reason="seeded",
    )


async def seed_async(
    path: Path,
    *,
    calls: int = 2000,
    days: int = 30,
    chats: int = 40,
    seed: int = 7,
    now: float | None = None,
    batch: int = 5000,
) -> float:
    """Write the records; returns the `now` the data is relative to."""
    rng = random.Random(seed)
    moment = time.time() if now is None else now
    ledger = ledger_for(LedgerSettings(path=path))
    await ledger.open()
    try:
        for start in range(0, calls, batch):
            numbers = range(start, min(calls, start + batch))
            rows = [_record(rng, n, moment, days, chats) for n in numbers]
            await ledger.insert_decisions([_decision(r) for r in rows if r.decision_id])
            await ledger.upsert_calls(rows)
    finally:
        await ledger.close()
    return moment


def seed_ledger(path: Path, **kwargs: object) -> float:
    """Synchronous wrapper of :func:`seed_async`."""
    return asyncio.run(seed_async(path, **kwargs))  # type: ignore[arg-type]
