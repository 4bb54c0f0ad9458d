"""`agent-routing demo`: a scripted, offline agent session and the report read back from it.

The package's parts: `_session` (the session itself, played through the real router,
budgets, litellm with `mock_response`, capture and a SQLite ledger; the demo ledger's
marker) and `_report` (what the command prints, including the all-strongest-tier cost of
the same recorded usage). Callers import from here.
"""

from __future__ import annotations

from agent_routing.demo._report import DemoReport, all_strong_cost, build_demo_report
from agent_routing.demo._session import (
    DemoResult,
    DemoStep,
    demo_settings,
    fresh_demo_ledger,
    is_demo_ledger,
    run_demo,
)

__all__ = [
    "DemoReport",
    "DemoResult",
    "DemoStep",
    "all_strong_cost",
    "build_demo_report",
    "demo_settings",
    "fresh_demo_ledger",
    "is_demo_ledger",
    "run_demo",
]
