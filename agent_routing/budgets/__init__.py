"""Budgets and quotas, checked before every LLM call and enforced across processes.

The package's parts: `_core` (:class:`Budgets`, the checks and reservations against the
ledger), `rules` (what needs no ledger: validation, applicability, windows, verdicts,
`format_usd`), `quotas` (request/token quotas per model or provider) and `guard`
(:class:`PerLoopBudgets`: one `Budgets` per event loop, failing closed when the ledger
cannot be opened). Callers import the public names from here.
"""

from __future__ import annotations

from agent_routing.budgets._core import Budgets, BudgetStatus, PriceFunction
from agent_routing.budgets.guard import PerLoopBudgets
from agent_routing.budgets.quotas import ProviderFunction, QuotaStatus
from agent_routing.budgets.rules import budget_from_mapping, format_usd

__all__ = [
    "BudgetStatus",
    "Budgets",
    "PerLoopBudgets",
    "PriceFunction",
    "ProviderFunction",
    "QuotaStatus",
    "budget_from_mapping",
    "format_usd",
]
