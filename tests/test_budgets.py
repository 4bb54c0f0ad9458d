"""Budgets and quotas: verdicts, reservations, periods, alerts, fail-closed behaviour."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest

from agent_routing.budgets import Budgets, budget_from_mapping
from agent_routing.config import (
    BudgetConfig,
    LedgerSettings,
    PriceOverride,
    QuotaConfig,
    ReservationSettings,
    Settings,
)
from agent_routing.errors import ConfigError
from agent_routing.ledger import Reservation, SpendLimit, SpendWindow, SQLiteLedger
from agent_routing.ledger.periods import day_bounds, month_bounds, resolve_timezone
from agent_routing.records import CallRecord, Outcome, Usage

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC).timestamp()


def per_token(model: str, input_tokens: int, output_tokens: int) -> float | None:
    """A fixed test price: $1 per million input tokens, $2 per million output tokens."""
    return input_tokens * 1e-6 + output_tokens * 2e-6


class Clock:
    """A settable clock for period tests."""

    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def ledger(backend_ledger: SQLiteLedger) -> SQLiteLedger:
    """The ledger under test, on each backend (SQLite file, PostgreSQL database)."""
    return backend_ledger


def make(
    ledger: Any,
    budgets: Sequence[BudgetConfig] = (),
    *,
    quotas: Sequence[QuotaConfig] = (),
    timezone: str = "UTC",
    clock: Clock | None = None,
    **kwargs: Any,
) -> Budgets:
    settings = Settings(
        budgets=list(budgets),
        quotas=list(quotas),
        ledger=LedgerSettings(timezone=timezone),
        reservation=ReservationSettings(output_estimate_tokens=1000),
    )
    kwargs.setdefault("estimate_cost", per_token)
    return Budgets(ledger, settings, clock=clock or Clock(), **kwargs)


async def spend(ledger: SQLiteLedger, cost: float, *, at: float = NOW, **fields: Any) -> None:
    """Record one ended call that cost `cost`."""
    values: dict[str, Any] = {"model": "gpt-4o-mini", "outcome": Outcome.OK, "cost_usd": cost}
    values.update(fields)
    await ledger.upsert_calls([CallRecord(id=f"spend-{at}-{cost}", started_at=at, **values)])


async def check(budgets: Budgets, **kwargs: Any) -> Any:
    values: dict[str, Any] = {
        "model": "gpt-4o-mini",
        "conversation_id": "conv",
        "input_tokens": 1000,
    }
    values.update(kwargs)
    return await budgets.check(**values)


# --- verdicts ---------------------------------------------------------------------------


async def test_no_budget_allows_without_touching_the_ledger(ledger: SQLiteLedger) -> None:
    """Without budgets a check allows, reports the estimate and reserves nothing."""
    verdict = await check(make(ledger))
    assert verdict.action == "allow"
    assert verdict.reservation_id is None
    assert verdict.estimated_cost_usd == pytest.approx(0.003)  # 1000 in + 1000 out estimated


async def test_allow_reserves_the_estimate(ledger: SQLiteLedger) -> None:
    """Under the limit: allow, a reservation holding input + bounded output, remaining after it."""
    budgets = make(ledger, [BudgetConfig(scope="daily", limit_usd=1.0)])
    await spend(ledger, 0.5)
    verdict = await check(budgets, max_output_tokens=500)
    assert verdict.action == "allow"
    assert verdict.estimated_cost_usd == pytest.approx(0.002)
    assert verdict.remaining_usd == pytest.approx(1.0 - 0.5 - 0.002)
    reservation = await ledger.get_reservation(verdict.reservation_id)
    assert reservation is not None
    assert (reservation.amount_usd, reservation.output_tokens) == (pytest.approx(0.002), 500)


async def test_block_refuses_and_reserves_nothing(ledger: SQLiteLedger) -> None:
    """Spend + estimate over a block budget refuses, naming the budget; nothing is held."""
    budgets = make(ledger, [BudgetConfig(scope="daily", limit_usd=1.0)])
    await spend(ledger, 0.999)
    verdict = await check(budgets)
    assert verdict.action == "block"
    assert verdict.reservation_id is None
    assert verdict.budget_key == "daily:*"
    assert "daily:*" in verdict.reason
    assert await ledger.spent_usd(SpendWindow(), now=NOW) == pytest.approx(0.999)


async def test_concurrent_checks_past_the_cap_are_blocks_that_hold_nothing(
    ledger: SQLiteLedger,
) -> None:
    """100 checks at once against a $1 block cap at $0.03 each: 33 allowed, each holding a
    reservation; every other verdict is a block holding none (never an unreserved allow).
    The same race across processes is tests/test_ledger_contract.py's budget race."""
    budgets = make(
        ledger, [BudgetConfig(scope="daily", limit_usd=1.0)], estimate_cost=lambda *_: 0.03
    )
    verdicts = await asyncio.gather(*(check(budgets, conversation_id=f"c{n}") for n in range(100)))
    allowed = [verdict for verdict in verdicts if verdict.action == "allow"]
    assert len(allowed) == 33
    assert len({verdict.reservation_id for verdict in allowed} - {None}) == 33
    refused = [verdict for verdict in verdicts if verdict.action != "allow"]
    assert {verdict.action for verdict in refused} == {"block"}
    assert all(verdict.reservation_id is None for verdict in refused)


@pytest.mark.parametrize("enforcement", ["warn", "downgrade"])
async def test_soft_enforcement_still_reserves(ledger: SQLiteLedger, enforcement: str) -> None:
    """warn and downgrade budgets do not refuse: the verdict says so and money is reserved."""
    budgets = make(
        ledger, [BudgetConfig(scope="monthly", limit_usd=0.001, enforcement=enforcement)]
    )
    verdict = await check(budgets)
    assert verdict.action == enforcement
    assert verdict.reservation_id is not None
    assert "monthly:*" in verdict.reason
    assert verdict.remaining_usd == pytest.approx(0.001 - 0.003)


async def test_most_severe_budget_wins(ledger: SQLiteLedger) -> None:
    """A warn and a block budget both exceeded give block; warn alone would allow the call."""
    budgets = make(
        ledger,
        [
            BudgetConfig(scope="daily", limit_usd=0.001, enforcement="warn"),
            BudgetConfig(scope="monthly", limit_usd=0.002, enforcement="block"),
        ],
    )
    verdict = await check(budgets)
    assert (verdict.action, verdict.budget_key) == ("block", "monthly:*")
    assert "daily:*" in verdict.reason


async def test_per_call_budget_bounds_one_call(ledger: SQLiteLedger) -> None:
    """A per-call budget compares this call's estimate only, whatever was spent before."""
    budgets = make(ledger, [BudgetConfig(scope="call", limit_usd=0.0025)])
    await spend(ledger, 100.0)
    assert (await check(budgets, max_output_tokens=500)).action == "allow"
    refused = await check(budgets, max_output_tokens=1000)
    assert (refused.action, refused.reservation_id) == ("block", None)


async def test_model_budget_applies_to_that_model_only(ledger: SQLiteLedger) -> None:
    """A budget with a model counts and limits that model's spend only."""
    budgets = make(ledger, [BudgetConfig(scope="daily", limit_usd=1.0, model="gpt-4o")])
    await spend(ledger, 0.999, model="gpt-4o")
    assert (await check(budgets, model="gpt-4o")).action == "block"
    other = await check(budgets, model="gpt-4o-mini")
    assert (other.action, other.reservation_id) == ("allow", None)


async def test_conversation_budget_counts_that_conversation(ledger: SQLiteLedger) -> None:
    """A conversation budget sums one conversation, over all time; without an id it is skipped."""
    budgets = make(ledger, [BudgetConfig(scope="conversation", limit_usd=0.01)])
    await spend(ledger, 0.009, at=NOW - 40 * 86400, conversation_id="long-task")
    assert (await check(budgets, conversation_id="long-task")).action == "block"
    assert (await check(budgets, conversation_id="fresh")).action == "allow"
    assert (await check(budgets, conversation_id=None)).reservation_id is None


async def test_settling_replaces_the_estimate_with_the_real_cost(ledger: SQLiteLedger) -> None:
    """The call's record with the reservation id makes spend exact; release drops a hold."""
    budgets = make(ledger, [BudgetConfig(scope="daily", limit_usd=1.0)])
    kept = await check(budgets)
    dropped = await check(budgets)
    window = SpendWindow(since=NOW - 3600, until=NOW + 3600)
    assert await ledger.spent_usd(window, now=NOW) == pytest.approx(0.006)
    await spend(ledger, 0.0017, reservation_id=kept.reservation_id)
    await budgets.release(dropped.reservation_id)
    assert await ledger.spent_usd(window, now=NOW) == pytest.approx(0.0017)
    assert (await ledger.get_reservation(kept.reservation_id)).status == "settled"
    assert (await ledger.get_reservation(dropped.reservation_id)).status == "released"


# --- periods ----------------------------------------------------------------------------


async def test_daily_budget_follows_the_ledger_time_zone(ledger: SQLiteLedger) -> None:
    """At 01:00 in Tokyo, yesterday's (Tokyo) spend no longer counts; in UTC it is the same day."""
    evening_utc = datetime(2026, 3, 10, 14, 0, tzinfo=UTC).timestamp()  # 23:00 in Tokyo
    check_at = datetime(2026, 3, 10, 16, 0, tzinfo=UTC).timestamp()  # 01:00 next day in Tokyo
    await spend(ledger, 0.999, at=evening_utc)
    daily = [BudgetConfig(scope="daily", limit_usd=1.0)]
    tokyo = make(ledger, daily, timezone="Asia/Tokyo", clock=Clock(check_at))
    utc = make(ledger, daily, timezone="UTC", clock=Clock(check_at))
    assert (await check(tokyo)).action == "allow"
    assert (await check(utc)).action == "block"


async def test_monthly_budget_resets_with_the_month(ledger: SQLiteLedger) -> None:
    """Spend in February does not count against March's monthly budget."""
    await spend(ledger, 0.999, at=datetime(2026, 2, 28, 23, 0, tzinfo=UTC).timestamp())
    monthly = [BudgetConfig(scope="monthly", limit_usd=1.0)]
    in_february = Clock(datetime(2026, 2, 28, 23, 30, tzinfo=UTC).timestamp())
    assert (await check(make(ledger, monthly, clock=in_february))).action == "block"
    assert (await check(make(ledger, monthly))).action == "allow"


def test_local_days_and_months_follow_dst() -> None:
    """The spring-forward day in Paris lasts 23 hours; months start at local midnight."""
    paris = resolve_timezone("Europe/Paris")
    start, end = day_bounds(datetime(2026, 3, 29, 12, tzinfo=UTC).timestamp(), paris)
    assert end - start == 23 * 3600
    assert datetime.fromtimestamp(start, paris).hour == 0
    first, following = month_bounds(datetime(2026, 12, 15, tzinfo=UTC).timestamp(), paris)
    assert datetime.fromtimestamp(first, paris).isoformat() == "2026-12-01T00:00:00+01:00"
    assert datetime.fromtimestamp(following, paris).isoformat() == "2027-01-01T00:00:00+01:00"
    with pytest.raises(ConfigError, match="tz: unknown time zone 'Mars/Olympus'"):
        resolve_timezone("Mars/Olympus")


# --- alerts -----------------------------------------------------------------------------


async def test_alerts_fire_once_per_budget_and_period(ledger: SQLiteLedger) -> None:
    """50/80/100 % alerts fire once each, are stored, do not repeat in another process's
    Budgets, and fire again in the next period."""
    daily = [BudgetConfig(scope="daily", limit_usd=0.01, enforcement="warn")]
    clock = Clock()
    budgets = make(ledger, daily, clock=clock)
    first = await check(budgets)  # 0.003 of 0.01 = 30 %
    assert first.alerts == ()
    second = await check(budgets)  # 60 %
    assert [a.split(" reached ")[1][:3] for a in second.alerts] == ["50%"]
    third = await check(budgets, input_tokens=3000)  # 60 % + 0.005 = 110 %
    assert len(third.alerts) == 2
    assert "80%" in third.alerts[0]
    assert "100%" in third.alerts[1]
    assert (await check(budgets)).alerts == ()
    assert (await check(make(ledger, daily, clock=clock))).alerts == ()  # a fresh instance
    stored = await ledger.query_alerts()
    assert [(a.threshold, a.period_key) for a in stored] == [
        (0.5, "day:2026-03-10"),
        (0.8, "day:2026-03-10"),
        (1.0, "day:2026-03-10"),
    ]
    clock.now += 86400
    assert len((await check(budgets, input_tokens=5000)).alerts) == 1  # 0.007 = 70 %: 50 % only


# --- fail closed ------------------------------------------------------------------------


class BrokenLedger:
    """A ledger whose reads or reservations fail (disk gone, file corrupt)."""

    def __init__(self, ledger: SQLiteLedger, *, fail_reads: bool = False) -> None:
        self._ledger = ledger
        self._fail_reads = fail_reads

    async def stored_budgets(self) -> list[BudgetConfig]:
        if self._fail_reads:
            raise OSError("disk I/O error")
        return await self._ledger.stored_budgets()

    async def reserve(self, reservation: Reservation, limits: Sequence[SpendLimit]) -> Any:
        raise OSError("database disk image is malformed")

    async def usage_totals(self, **kwargs: Any) -> Any:
        raise OSError("database disk image is malformed")


@pytest.mark.parametrize(
    ("enforcement", "expected"), [("block", "block"), ("downgrade", "downgrade"), ("warn", "warn")]
)
async def test_ledger_error_fails_closed_for_block_budgets(
    ledger: SQLiteLedger, enforcement: str, expected: str
) -> None:
    """A ledger error while reserving refuses under a block budget and never silently allows."""
    budgets = make(
        BrokenLedger(ledger), [BudgetConfig(scope="daily", limit_usd=100, enforcement=enforcement)]
    )
    verdict = await check(budgets)
    assert verdict.action == expected
    assert verdict.reservation_id is None
    assert "ledger error" in verdict.reason


async def test_unreadable_budgets_refuse(ledger: SQLiteLedger) -> None:
    """When stored budgets cannot be read the check refuses (they could hold a block budget)."""
    verdict = await check(make(BrokenLedger(ledger, fail_reads=True)))
    assert verdict.action == "block"
    assert "disk I/O error" in verdict.reason


async def test_unpriced_model_against_dollar_budgets(ledger: SQLiteLedger) -> None:
    """An unpriced model is refused by a block budget, downgraded or warned by softer ones."""
    for enforcement in ("block", "downgrade", "warn"):
        budgets = make(
            ledger,
            [BudgetConfig(scope="daily", limit_usd=5, enforcement=enforcement)],
            estimate_cost=lambda *_: None,
        )
        verdict = await check(budgets, model="my-local-llm")
        assert (verdict.action, verdict.reservation_id) == (enforcement, None)
        assert "price of model 'my-local-llm' is unknown" in verdict.reason
        assert "prices:" in verdict.reason


async def test_real_prices_and_overrides(ledger: SQLiteLedger) -> None:
    """With the default pricing, estimates use litellm's price map, and a price override
    lets a local model run under a block budget."""
    settings = Settings(
        budgets=[BudgetConfig(scope="daily", limit_usd=5)],
        prices={
            "my-local-llm": PriceOverride(input_cost_per_token=1e-7, output_cost_per_token=2e-7)
        },
    )
    budgets = Budgets(ledger, settings, clock=Clock())
    known = await budgets.check(
        model="gpt-4o-mini", conversation_id=None, input_tokens=1000, max_output_tokens=100
    )
    assert known.estimated_cost_usd == pytest.approx(1000 * 1.5e-7 + 100 * 6e-7)
    local = await budgets.check(
        model="my-local-llm", conversation_id=None, input_tokens=1000, max_output_tokens=100
    )
    assert (local.action, local.estimated_cost_usd) == ("allow", pytest.approx(1.2e-4))
    unknown = await budgets.check(
        model="nobody-knows-this-model", conversation_id=None, input_tokens=10
    )
    assert unknown.action == "block"


# --- quotas -----------------------------------------------------------------------------


async def test_request_quota_per_minute_for_a_model(ledger: SQLiteLedger) -> None:
    """Three requests a minute: the fourth is unavailable until the oldest leaves the window."""
    clock = Clock()
    quota = QuotaConfig(model="gpt-4o-mini", unit="requests", period="minute", limit=3)
    budgets = make(ledger, quotas=[quota], clock=clock, provider_of=lambda _: "openai")
    for offset in (0, 10, 20):
        await spend(ledger, 0.0, at=NOW + offset)
    clock.now = NOW + 30
    assert await budgets.quota_available("gpt-4o-mini") is False
    assert await budgets.quota_available("gpt-4o") is True
    clock.now = NOW + 61
    assert await budgets.quota_available("gpt-4o-mini") is True


async def test_token_quota_per_day_for_a_provider(ledger: SQLiteLedger) -> None:
    """A provider's daily token quota counts all its models and this call's input tokens."""
    quota = QuotaConfig(provider="openai", unit="tokens", period="day", limit=10_000)
    budgets = make(ledger, quotas=[quota])  # real provider_of: gpt-4o* -> openai
    await spend(ledger, 0.0, usage=Usage(6000, 1000), provider="openai")
    await spend(ledger, 0.1, usage=Usage(2000, 0), provider="openai", model="gpt-4o")
    await spend(ledger, 0.2, at=NOW - 86400, usage=Usage(9000, 0), provider="openai")
    assert await budgets.quota_available("gpt-4o-mini", input_tokens=1000) is True
    assert await budgets.quota_available("gpt-4o", input_tokens=1001) is False
    assert await budgets.quota_available("claude-3-5-haiku-20241022", input_tokens=5000) is True
    [status] = await budgets.quota_status()
    assert (status.used, status.remaining) == (9000, 1000)


async def test_quota_check_fails_closed(ledger: SQLiteLedger) -> None:
    """A quota check that cannot read usage reports the model unavailable."""
    quota = QuotaConfig(model="gpt-4o-mini", unit="requests", period="day", limit=100)
    budgets = make(BrokenLedger(ledger), quotas=[quota])
    assert await budgets.quota_available("gpt-4o-mini") is False


# --- status, overrides, input -----------------------------------------------------------


async def test_status_reports_spend_period_and_source(ledger: SQLiteLedger) -> None:
    """status() shows spent (settled + reserved), remaining and fraction for the period."""
    budgets = make(
        ledger,
        [
            BudgetConfig(scope="daily", limit_usd=2.0),
            BudgetConfig(scope="conversation", limit_usd=1.0, enforcement="warn"),
            BudgetConfig(scope="call", limit_usd=0.1),
        ],
    )
    await spend(ledger, 0.5, conversation_id="conv")
    await check(budgets)  # reserves 0.003
    daily, conversation, per_call = await budgets.status()
    assert (daily.spent_usd, daily.remaining_usd) == (pytest.approx(0.503), pytest.approx(1.497))
    assert daily.fraction == pytest.approx(0.2515)
    assert daily.period_start == datetime(2026, 3, 10, tzinfo=UTC).timestamp()
    assert daily.period_end == datetime(2026, 3, 11, tzinfo=UTC).timestamp()
    assert conversation.spent_usd is None  # no conversation given
    assert per_call.spent_usd is None
    [_, conversation, _] = await budgets.status("conv")
    assert conversation.spent_usd == pytest.approx(0.503)
    assert {s.source for s in await budgets.status()} == {"config"}


async def test_stored_budget_overrides_config_until_removed(ledger: SQLiteLedger) -> None:
    """set_budget replaces the config budget with the same key; remove_budget restores it."""
    budgets = make(ledger, [BudgetConfig(scope="daily", limit_usd=0.001)])
    assert (await check(budgets)).action == "block"
    await budgets.set_budget(BudgetConfig(scope="daily", limit_usd=10, enforcement="warn"))
    [status] = await budgets.status()
    assert (status.limit_usd, status.source) == (10, "stored")
    assert (await check(budgets)).action == "allow"
    assert await budgets.remove_budget("daily:*") is True
    assert (await check(budgets)).action == "block"


async def test_bad_check_input_names_the_field(ledger: SQLiteLedger) -> None:
    """Negative or non-integer token counts raise ConfigError naming the argument."""
    budgets = make(ledger, [BudgetConfig(scope="daily", limit_usd=1)])
    with pytest.raises(ConfigError, match="input_tokens"):
        await check(budgets, input_tokens=-1)
    with pytest.raises(ConfigError, match="max_output_tokens"):
        await check(budgets, max_output_tokens=0)
    with pytest.raises(ConfigError, match="input_tokens"):
        await budgets.quota_available("gpt-4o-mini", input_tokens=-5)
    assert await ledger.query_calls() == []


def test_budget_from_mapping_names_bad_fields() -> None:
    """User input for a budget is validated with every bad field and value named."""
    with pytest.raises(ConfigError) as caught:
        budget_from_mapping({"scope": "weekly", "limit_usd": -1, "alert_thresholds": [0]})
    fields = [field for field, _ in caught.value.problems]
    assert fields == ["scope", "limit_usd", "alert_thresholds"]
    assert "-1" in str(caught.value)
    assert budget_from_mapping({"scope": "daily", "limit_usd": 5}).key == "daily:*"


# --- one model, several names ----------------------------------------------------------


@pytest.mark.parametrize("budget_model", ["gpt-4o", "openai/gpt-4o"])
@pytest.mark.parametrize("scope", ["daily", "conversation"])
async def test_a_model_budget_counts_every_name_of_its_model(
    ledger: SQLiteLedger, budget_model: str, scope: str
) -> None:
    """A budget on `gpt-4o` limits the calls Agent Zero makes as `openai/gpt-4o` (and the
    other way round): spend recorded under one name, a check made under the other, both
    count; a different model (or provider) is untouched. Real litellm provider resolution."""
    budgets = make(ledger, [BudgetConfig(scope=scope, limit_usd=0.01, model=budget_model)])
    await spend(ledger, 0.02, model="openai/gpt-4o", conversation_id="conv")
    for name in ("gpt-4o", "openai/gpt-4o"):
        verdict = await check(budgets, model=name)
        assert verdict.action == "block", name
    assert (await check(budgets, model="gpt-4o-mini")).action == "allow"
    assert (await check(budgets, model="azure/gpt-4o")).action == "allow"


async def test_a_model_quota_counts_every_name_of_its_model(ledger: SQLiteLedger) -> None:
    """A request quota on `gpt-4o` sees the requests recorded as `openai/gpt-4o`."""
    clock = Clock()
    quota = QuotaConfig(model="gpt-4o", unit="requests", period="minute", limit=1)
    budgets = make(ledger, quotas=[quota], clock=clock)
    assert await budgets.quota_available("openai/gpt-4o") is True
    await spend(ledger, 0.001, model="openai/gpt-4o", at=clock.now - 1)
    assert await budgets.quota_available("openai/gpt-4o") is False
    assert await budgets.quota_available("gpt-4o") is False
    assert await budgets.quota_available("gpt-4o-mini") is True
