"""The ledger operations both SQL backends share (`ledger/_sql_ledger.py`), on each backend:
quota holds, host strings a driver cannot store, concurrent coroutines on one ledger, and
two sweeps of orphaned calls at once."""

from __future__ import annotations

import asyncio
import random
from typing import Any, Literal

import pytest

from agent_routing.ledger import (
    BudgetAlert,
    Reservation,
    SpendLimit,
    SpendWindow,
    ledger_for,
)
from agent_routing.ledger.base import QuotaHold
from agent_routing.ledger.sqlite import SQLiteLedger
from agent_routing.records import CallRecord, DecisionRecord, Outcome, OutcomeSignal, Usage

T0 = 1_780_000_000.0
ODD = "conv-\udcff-\ud800"  # lone surrogates: not UTF-8, as a host string may hold


@pytest.fixture
def ledger(backend_ledger: SQLiteLedger) -> SQLiteLedger:
    """The ledger under test, on each backend (SQLite file, PostgreSQL database)."""
    return backend_ledger


def hold(
    key: str, unit: Literal["requests", "tokens"], limit: int, needed: int, **fields: Any
) -> QuotaHold:
    return QuotaHold(key, T0 - 60, T0 + 60, unit, limit, needed, **fields)


async def test_quota_holds_count_calls_or_holds_and_refuse_taking_nothing(
    ledger: SQLiteLedger,
) -> None:
    """hold_quotas counts the larger of committed calls (every name of the model, blocked
    calls excluded) and earlier holds; a refusal names the first quota without room and
    holds nothing in any quota."""
    await ledger.upsert_calls(
        [
            CallRecord("a", T0, "gpt-4o", usage=Usage(300, 100)),
            CallRecord("b", T0, "openai/gpt-4o", usage=Usage(50, 0)),
            CallRecord("x", T0, "gpt-4o", outcome=Outcome.BLOCKED, usage=Usage(999, 0)),
        ]
    )

    def tokens(needed: int) -> QuotaHold:
        return hold("tpm", "tokens", 551, needed, model="gpt-4o", model_aliases=("openai/gpt-4o",))

    assert await ledger.hold_quotas([tokens(100)], now=T0) is None  # 450 + 100 <= 551
    assert await ledger.hold_quotas([tokens(101)], now=T0) is None  # max(450, 100) + 101
    assert await ledger.hold_quotas([tokens(102)], now=T0) == "tpm"  # max(450, 201) + 102
    free = hold("rpm", "requests", 2, 1, model="m-free")
    full = hold("one", "requests", 1, 1, model="m-other")
    assert await ledger.hold_quotas([full], now=T0) is None
    assert await ledger.hold_quotas([free, full], now=T0) == "one"
    assert await ledger.hold_quotas([free], now=T0) is None
    assert await ledger.hold_quotas([free], now=T0) is None  # the refusal held nothing here
    assert await ledger.hold_quotas([free], now=T0) == "rpm"
    assert await ledger.hold_quotas([], now=T0) is None


async def test_host_strings_a_driver_cannot_take_find_the_same_rows(ledger: SQLiteLedger) -> None:
    """A string with lone surrogates is stored (escaped) by every operation, and the same
    string finds the same rows again: calls, decisions, signals, reservations, spend,
    quota holds, alerts and the cache."""
    await ledger.write_batch(
        calls=[CallRecord("c", T0, ODD, conversation_id=ODD, outcome=Outcome.OK, cost_usd=0.25)],
        decisions=[DecisionRecord("d", T0, ODD, None, "chat", "balanced", None, ODD, None, None)],
        signals=[OutcomeSignal("d", "misformat", T0, ODD)],
    )
    assert [c.id for c in await ledger.query_calls(conversation_id=ODD, model=ODD)] == ["c"]
    assert [d.id for d in await ledger.query_decisions(conversation_id=ODD)] == ["d"]
    assert len(await ledger.query_signals(decision_id="d")) == 1
    reservation = Reservation("r", T0, T0 + 60, ODD, 0.5, conversation_id=ODD)
    window = SpendWindow(conversation_id=ODD)
    result = await ledger.reserve(reservation, [SpendLimit("conv", window, 1.0, hard=True)])
    assert (result.reservation_id, result.spent_usd) == ("r", {"conv": pytest.approx(0.25)})
    assert await ledger.spent_usd(window, now=T0) == pytest.approx(0.75)
    assert await ledger.spent_usd(SpendWindow(model=ODD), now=T0) == pytest.approx(0.75)
    limited = [SpendLimit("conv", window, 1.0, hard=True)]
    refused = await ledger.reserve(Reservation("r2", T0, T0 + 60, ODD, 0.5, ODD), limited)
    assert refused.refused_by == "conv"
    quota = hold(ODD, "requests", 1, 1, model="m-none")
    assert await ledger.hold_quotas([quota], now=T0) is None
    assert await ledger.hold_quotas([quota], now=T0) == ODD
    alert = BudgetAlert(ODD, "day:1", 0.8, T0, 1.0, 2.0, ODD)
    assert await ledger.insert_alert(alert) is True
    assert await ledger.insert_alert(alert) is False
    await ledger.cache_put(ODD, ODD, "value")
    assert await ledger.cache_get(ODD, ODD) == "value"


async def test_concurrent_reservations_on_one_ledger_never_overspend(ledger: SQLiteLedger) -> None:
    """30 coroutines reserving $0.10 at once against a $1.00 hard limit, on one ledger
    object: exactly 10 are admitted and the window's spend is exactly the limit."""
    window = SpendWindow(since=T0 - 100, until=T0 + 100)
    limit = [SpendLimit("daily:*", window, 1.0, hard=True)]
    results = await asyncio.gather(
        *(
            ledger.reserve(Reservation(f"r{n}", T0, T0 + 600, "gpt-4o", 0.1), limit)
            for n in range(30)
        )
    )
    admitted = [r.reservation_id for r in results if r.reservation_id is not None]
    assert len(admitted) == 10
    assert all(r.refused_by == "daily:*" for r in results if r.reservation_id is None)
    assert await ledger.spent_usd(window, now=T0) == pytest.approx(1.0)


async def test_two_sweeps_at_once_close_each_orphan_once(
    ledger: SQLiteLedger, ledger_url: str
) -> None:
    """Two ledgers (two connections) sweeping the same pending calls at the same time close
    each one exactly once: the closed counts add up to the orphans, and none stays pending."""
    orphans = [
        CallRecord(f"p{n}", T0 + n, "gpt-4o", outcome=Outcome.PENDING, usage=Usage(10))
        for n in range(40)
    ]
    await ledger.upsert_calls(orphans)
    other = ledger_for(path=ledger_url)
    await other.open()
    try:
        first, second = await asyncio.gather(
            ledger.close_orphaned_calls(started_before=T0 + 100, now=T0 + 200),
            other.close_orphaned_calls(started_before=T0 + 100, now=T0 + 200),
        )
    finally:
        await other.close()
    assert first.closed + second.closed == 40
    stored = await ledger.query_calls()
    assert {c.outcome for c in stored} == {Outcome.ABANDONED}


def _routing_seed(rng: random.Random) -> tuple[list[CallRecord], list[DecisionRecord]]:
    """Decisions over several strongest models (one unpriced, one with long-prompt prices,
    candidate lists with odd entries) and calls of every kind the savings must skip."""
    strongest = [
        [{"tier": "cheap", "model": "gpt-4o-mini"}, {"tier": "strong", "model": "gpt-4o"}],
        [{"model": "gpt-4o-mini"}, {"model": "claude-sonnet-4-20250514"}, {"note": "no model"}],
        [{"model": "gpt-4o-mini"}, {"model": "gemini/gemini-1.5-pro"}, {"model": ""}],
        [{"model": "gpt-4o-mini"}, "not an object", {"model": 5}],  # strongest: gpt-4o-mini
        [{"model": "gpt-4o-mini"}, {"model": "no-such-model-anywhere"}],  # unpriced: skipped
        [{"tier": "cheap"}],  # no model at all: skipped
        [],
    ]
    decisions = []
    for n in range(120):
        created = T0 + rng.uniform(-50, 1050)  # some before or after the range
        decisions.append(
            DecisionRecord(
                id=f"d{n}",
                created_at=created,
                conversation_id=rng.choice(["c1", "c2"]),
                agent_no=0,
                call_kind="chat",
                strategy="threshold",
                chosen_tier="cheap",
                chosen_model="gpt-4o-mini",
                configured_model="gpt-4o",
                score=0.5,
                candidates=rng.choice(strongest),
                applied=rng.random() < 0.8,
            )
        )
    outcomes = [Outcome.OK] * 6 + [Outcome.ABANDONED, Outcome.ERROR, Outcome.BLOCKED]
    calls = []
    for n in range(600):
        prompt = rng.choice([800, 5_000, 150_000, 260_000, 400_000])  # long prompts too
        usage: Usage | None = Usage(
            prompt + rng.randrange(100),
            rng.randrange(2_000),
            cached_read_tokens=rng.choice([0, 0, prompt // 2]),
            cache_creation_tokens=rng.choice([0, 0, 100]),
        )
        if n % 41 == 0:
            usage = Usage(100, 10, cached_read_tokens=500)  # more cached than input: invalid
        if n % 37 == 0:
            usage = None
        decision = rng.choice(decisions)
        calls.append(
            CallRecord(
                id=f"k{n}",
                started_at=decision.created_at + rng.uniform(0, 20),
                model=rng.choice(["gpt-4o-mini", "gpt-4o", "claude-sonnet-4-20250514"]),
                conversation_id=decision.conversation_id if n % 13 else "other",
                decision_id=decision.id if n % 11 else rng.choice([None, "missing-decision"]),
                outcome=rng.choice(outcomes),
                usage=usage,
                cost_usd=None if n % 7 == 0 else rng.uniform(0, 0.5),  # unpriced calls too
            )
        )
    return calls, decisions


@pytest.mark.parametrize("conversation", [None, "c1"])
async def test_routing_summary_equals_pricing_every_call_in_python(
    ledger: SQLiteLedger, conversation: str | None
) -> None:
    """The dashboard's routing savings from the database's sums per strongest model and
    prompt-size band equal the per-call Python path (every count exactly, dollars to float
    rounding) on a seeded ledger: long prompts priced at their long-context tier, several
    models, unpriced calls and strongest models, missing or out-of-range decisions, invalid
    usage, unbilled outcomes."""
    from agent_routing.host.ui_api import routing_savings, routing_savings_of
    from agent_routing.pricing import price_thresholds

    calls, decisions = _routing_seed(random.Random(11))
    await ledger.write_batch(calls, decisions, [])
    since, until = T0, T0 + 1000
    window = {"since": since, "until": until, "conversation_id": conversation}
    in_range_calls = await ledger.query_calls(**window)
    in_range_decisions = await ledger.query_decisions(**window)
    expected = routing_savings(in_range_calls, in_range_decisions)

    summary = await ledger.routing_summary(**window, input_thresholds=price_thresholds())
    got = routing_savings_of(summary.by_strong_model)

    assert summary.decisions == len(in_range_decisions)
    assert summary.applied == sum(1 for d in in_range_decisions if d.applied)
    assert sorted({g.strong_model for g in summary.by_strong_model}) == sorted(
        {"gpt-4o", "claude-sonnet-4-20250514", "gemini/gemini-1.5-pro", "gpt-4o-mini"}
        | {"no-such-model-anywhere"}
    )
    bands = {(g.strong_model, g.input_above) for g in summary.by_strong_model}
    assert {("claude-sonnet-4-20250514", 256_000), ("gemini/gemini-1.5-pro", 128_000)} <= bands
    assert len(bands) == len(summary.by_strong_model) < 50  # few groups, each priced once
    assert got["calls_compared"] == expected["calls_compared"] > 50
    assert got["calls_below_strongest"] == expected["calls_below_strongest"] > 0
    for key in ("actual_usd", "all_strong_usd", "saved_usd", "saved_share"):
        assert got[key] == pytest.approx(expected[key], rel=1e-12, abs=1e-12), key


async def test_routing_savings_price_each_prompt_at_its_long_context_tier(
    ledger: SQLiteLedger,
) -> None:
    """A strongest model with long-prompt prices counts each call at the tier its own prompt
    falls in (claude-sonnet-4 above 200k: double input price), in the per-call path and in
    the database's sums alike; without thresholds the database path sees only base prices."""
    from agent_routing.host.ui_api import routing_savings, routing_savings_of
    from agent_routing.pricing import cost_usd, price_thresholds, unit_prices

    strong = "claude-sonnet-4-20250514"
    decision = DecisionRecord(
        "d", T0, "c", 0, "chat", "threshold", "cheap", "gpt-4o-mini", strong, 0.2,
        candidates=[{"model": "gpt-4o-mini"}, {"model": strong}],
    )  # fmt: skip
    OK = Outcome.OK
    short, long = Usage(150_000, 1_000, cached_read_tokens=50_000), Usage(260_000, 2_000)
    calls = [
        CallRecord(
            "s", T0 + 1, "gpt-4o-mini", decision_id="d", usage=short, cost_usd=0.03, outcome=OK
        ),
        CallRecord(
            "l", T0 + 2, "gpt-4o-mini", decision_id="d", usage=long, cost_usd=0.05, outcome=OK
        ),
        CallRecord("t", T0 + 3, strong, decision_id="d", usage=long, cost_usd=0.0, outcome=OK),
    ]
    await ledger.write_batch(calls, [decision], [])
    base = unit_prices(strong)
    tier = unit_prices(strong, input_tokens=260_000)
    assert base is not None
    assert tier is not None
    assert tier.input == 2 * base.input
    expected_strong = cost_usd(short, base) + 2 * cost_usd(long, tier)

    per_call = routing_savings(await ledger.query_calls(), [decision])
    summary = await ledger.routing_summary(input_thresholds=price_thresholds())
    from_sums = routing_savings_of(summary.by_strong_model)
    flat = routing_savings_of((await ledger.routing_summary()).by_strong_model)

    for got in (per_call, from_sums):
        assert got["calls_compared"] == 3
        assert got["calls_below_strongest"] == 2
        assert got["all_strong_usd"] == pytest.approx(expected_strong, rel=1e-12)
        assert got["saved_usd"] == pytest.approx(expected_strong - 0.08, rel=1e-12)
    assert [(g.input_above, g.calls) for g in summary.by_strong_model] == [
        (128_000, 1),
        (256_000, 2),
    ]
    base_only = cost_usd(short, base) + 2 * cost_usd(long, base)
    assert flat["all_strong_usd"] == pytest.approx(base_only, rel=1e-12)
    assert base_only < expected_strong  # the understatement the thresholds remove


def test_price_thresholds_cover_every_tier_and_bad_thresholds_are_refused() -> None:
    """The bands the dashboard groups by hold every tier threshold of the models priced
    (claude-sonnet-4 at 200k, gemini-1.5-pro at 128k), and a threshold the SQL could not
    take is a ConfigError naming the field."""
    from agent_routing.errors import ConfigError
    from agent_routing.ledger.queries import routed_usage_query
    from agent_routing.pricing import price_thresholds

    thresholds = price_thresholds()
    assert {128_000, 200_000} <= set(thresholds)
    assert list(thresholds) == sorted(set(thresholds))
    assert all(t > 0 for t in thresholds)
    sql, _ = routed_usage_query(None, None, None, [200_000, 128_000])
    assert sql.index("> 200000 THEN 200000") < sql.index("> 128000 THEN 128000")
    for bad in ([0], [1.5], ["1; DROP TABLE calls"], [True]):
        with pytest.raises(ConfigError, match="input_thresholds"):
            routed_usage_query(None, None, None, bad)  # type: ignore[arg-type]
