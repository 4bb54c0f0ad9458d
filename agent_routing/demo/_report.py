"""The report `agent-routing demo` prints, read back from the demo's ledger.

Besides the ordinary cost report it prices the same recorded usage as if every call had
gone to the strongest tier (what Agent Zero does without routing), so the saving shown is
computed from the ledger's own token counts, not asserted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from agent_routing.config import Settings
from agent_routing.demo._session import DemoResult, demo_settings
from agent_routing.records import CallRecord, Outcome


@dataclass(frozen=True, slots=True)
class DemoReport:
    """Everything the demo shows."""

    result: DemoResult
    by_model: Any  # reports.CostReport
    by_kind: Any  # reports.CostReport
    budgets: list[Any]  # budgets.BudgetStatus
    calls: list[CallRecord]
    strongest_model: str
    routed_cost_usd: float
    all_strong_cost_usd: float | None

    @property
    def saving(self) -> float | None:
        """Fraction of the all-strong cost saved by routing (None when it cannot be priced)."""
        if not self.all_strong_cost_usd:
            return None
        return 1.0 - self.routed_cost_usd / self.all_strong_cost_usd

    def as_json(self) -> dict[str, Any]:
        """One JSON object for `demo --json`."""
        from agent_routing.reports import to_jsonable

        return {
            "db_path": str(self.result.db_path),
            "conversation_id": self.result.conversation_id,
            "steps": to_jsonable(self.result.steps),
            "calls": len(self.calls),
            "routed_cost_usd": self.routed_cost_usd,
            "all_strong_cost_usd": self.all_strong_cost_usd,
            "strongest_model": self.strongest_model,
            "saving": self.saving,
            "by_model": to_jsonable(self.by_model),
            "by_kind": to_jsonable(self.by_kind),
            "budgets": to_jsonable(self.budgets),
        }


def all_strong_cost(calls: list[CallRecord], model: str, settings: Settings) -> float | None:
    """The recorded usage of every served chat/utility call priced at `model`."""
    from agent_routing.pricing import cost_usd, unit_prices

    prices = unit_prices(model, settings.prices)
    if prices is None:
        return None
    total = 0.0
    for call in calls:
        if call.usage is None or call.call_kind == "embedding" or call.outcome is not Outcome.OK:
            continue
        total += cost_usd(call.usage, prices)
    return total


async def build_demo_report(result: DemoResult, settings: Settings | None = None) -> DemoReport:
    """Read the demo's ledger back and compute the report."""
    from agent_routing.budgets import Budgets
    from agent_routing.ledger import ledger_for
    from agent_routing.reports import build_report, prepare_query

    settings = demo_settings(settings)
    ledger = ledger_for(settings.ledger, result.db_path)
    await ledger.open()
    try:
        tz = settings.ledger.timezone
        by_model = await build_report(ledger, prepare_query(by="model", tz=tz))
        by_kind = await build_report(ledger, prepare_query(by="kind", tz=tz))
        statuses = await Budgets(ledger, settings).status(result.conversation_id)
        calls = await ledger.query_calls()
    finally:
        await ledger.close()
    strongest = settings.effective_tiers()[-1].model
    routed = sum(
        call.cost_usd or 0.0
        for call in calls
        if call.call_kind != "embedding" and call.outcome is Outcome.OK
    )
    return DemoReport(
        result=result,
        by_model=by_model,
        by_kind=by_kind,
        budgets=list(statuses),
        calls=list(calls),
        strongest_model=strongest,
        routed_cost_usd=routed,
        all_strong_cost_usd=all_strong_cost(list(calls), strongest, settings),
    )
