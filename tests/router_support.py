"""Router test helpers (no tests here): three known tiers and settings built on them.

The generic fakes (analyzer, budgets, sink, in-memory ledger) are public, in
:mod:`agent_routing.testing`.
"""

from __future__ import annotations

from agent_routing.config import Settings, TierConfig, settings_from_mapping

THREE_TIERS = [
    TierConfig(name="small", model="gpt-4o-mini"),
    TierConfig(name="medium", model="gpt-4.1-mini"),
    TierConfig(name="large", model="gpt-4o"),
]


def settings_with(**router: object) -> Settings:
    """Settings with three known tiers and the given `router` section values."""
    return settings_from_mapping(
        {"tiers": [tier.model_dump() for tier in THREE_TIERS], "router": router}
    )
