"""`agent-routing demo`: the README's first command, run as a real process on a real ledger."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.slow
def test_demo_records_every_call_and_reports_from_the_ledger(tmp_path: Path) -> None:
    """The demo routes simple steps cheap and hard ones strong, falls back on a rate limit
    (the fallback row is attempt 1 of the same decision), escalates after a misformat, and
    its reported total equals the ledger's own sum."""
    db = tmp_path / "demo.db"
    env = {**os.environ, "AGENT_ROUTING_HOME": str(tmp_path / "home")}
    proc = subprocess.run(
        [sys.executable, "-m", "agent_routing.cli", "demo", "--json", "--db", str(db)],
        capture_output=True,
        text=True,
        timeout=240,
        env=env,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    tiers = {step["label"]: step["tier"] for step in report["steps"]}
    assert tiers["simple question"] == "cheap"
    assert tiers["hard coding task"] == "strong"
    assert tiers["retry after misformat"] == "strong"  # cascade escalation
    assert tiers["memorise solution"] == "cheap"  # rule: memory -> cheapest
    hard = next(step for step in report["steps"] if step["label"] == "hard coding task")
    assert hard["hops"] == 2  # rate limit on the strong model, fallback to the next one
    assert hard["model"] == "gpt-4o -> gpt-4o-mini"  # the table says which model served it

    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT call_kind, outcome, conversation_id, decision_id, cost_usd FROM calls"
        ).fetchall()
        hops = conn.execute(
            "SELECT decision_id, attempt, outcome FROM calls WHERE decision_id IN "
            "(SELECT decision_id FROM calls WHERE outcome = 'rate_limited') ORDER BY attempt"
        ).fetchall()
    assert len(rows) == report["calls"] == 9
    assert {row[2] for row in rows} == {report["conversation_id"]}
    assert all(row[3] for row in rows if row[0] != "embedding")
    assert sorted(row[1] for row in rows).count("rate_limited") == 1
    # the fallback hop is attempt 1 of the rate-limited decision (the retry rate counts it)
    assert [(attempt, outcome) for _, attempt, outcome in hops] == [(0, "rate_limited"), (1, "ok")]
    assert len({decision for decision, _, _ in hops}) == 1
    ledger_total = sum(row[4] or 0.0 for row in rows if row[0] != "embedding" and row[1] == "ok")
    assert abs(ledger_total - report["routed_cost_usd"]) < 1e-12
    assert report["all_strong_cost_usd"] > report["routed_cost_usd"] > 0
