"""`agent-routing route`: the decision and why, as text or JSON, with the documented exit codes."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import yaml
from click.testing import CliRunner

from agent_routing.cli import main
from agent_routing.ledger import SQLiteLedger, run_sync

HARD = (
    "Prove that there are infinitely many primes p such that p + 2 is also prime is an "
    "open problem; instead prove step by step that sqrt(2) is irrational, then write a "
    "Python function that checks it numerically with exact rational arithmetic and tests."
)


def write_config(tmp_path: Path, data: dict[str, object]) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def route(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["route", *args])
    return result.exit_code, result.output


def test_json_shows_tier_score_features_candidates_and_reason(tmp_path: Path) -> None:
    """--json prints the full decision; nothing is written to a ledger."""
    code, output = route(HARD, "--json", "--db", str(tmp_path / "absent.db"))
    assert code == 0, output
    summary = json.loads(output)
    assert summary["tier"] in {"cheap", "strong"}
    assert summary["model"] in {"gpt-4o-mini", "gpt-4o"}
    assert 0.0 <= summary["score"] <= 1.0
    assert summary["top_features"]
    assert {c["tier"] for c in summary["candidates"]} == {"cheap", "strong"}
    assert all(c["estimated_cost_usd"] > 0 for c in summary["candidates"])
    assert summary["reason"].startswith("balanced: score")
    assert summary["decision_id"] is None  # a dry run records nothing
    assert not (tmp_path / "absent.db").exists()


def test_text_output_and_kind_rule(tmp_path: Path) -> None:
    """A title call goes to the cheapest tier by the default rule, capped at 64 tokens."""
    code, output = route("Name this chat: debugging the parser", "--kind", "title")
    assert code == 0, output
    assert output.startswith("tier:      cheap (gpt-4o-mini)")
    assert "rule: title calls go to cheap" in output
    assert "max_tokens: 64" in output
    assert "candidates (" in output


def test_strategy_from_config_file_changes_the_choice(tmp_path: Path) -> None:
    """Explicit thresholds in the config file are what the command routes by."""
    low = write_config(tmp_path, {"router": {"thresholds": [0.0]}})
    high = tmp_path / "high.yaml"
    high.write_text(yaml.safe_dump({"router": {"thresholds": [1.0]}}), encoding="utf-8")
    assert json.loads(route(HARD, "--json", "--config", str(low))[1])["tier"] == "strong"
    assert json.loads(route(HARD, "--json", "--config", str(high))[1])["tier"] == "cheap"


def test_bad_thresholds_exit_2_naming_the_field(tmp_path: Path) -> None:
    """A wrong threshold count is bad input (exit 2) and the message names router.thresholds."""
    config = write_config(tmp_path, {"router": {"thresholds": [0.2, 0.5]}})
    code, output = route("hi", "--config", str(config))
    assert code == 2
    assert "router.thresholds" in output
    assert "2 tier(s) need 1 threshold(s), got 2" in output


def test_unknown_tier_model_exits_2(tmp_path: Path) -> None:
    """A tier whose model litellm cannot price is rejected with its field path."""
    config = write_config(tmp_path, {"tiers": [{"name": "x", "model": "not-a-real-model-zz"}]})
    code, output = route("hi", "--config", str(config))
    assert code == 2
    assert "tiers.0.model" in output
    assert "not-a-real-model-zz" in output


def test_blocking_budget_exits_3_and_holds_nothing(tmp_path: Path) -> None:
    """With a spent blocking budget the command exits 3; the dry run leaves no reservation."""
    db = tmp_path / "ledger.db"

    async def create() -> None:
        async with SQLiteLedger(db):
            pass

    run_sync(create())
    config = write_config(
        tmp_path,
        {"budgets": [{"scope": "daily", "limit_usd": 0.0, "enforcement": "block"}]},
    )
    code, output = route("hi", "--config", str(config), "--db", str(db))
    assert code == 3
    assert "daily" in output
    allowed = write_config(
        tmp_path, {"budgets": [{"scope": "daily", "limit_usd": 5.0, "enforcement": "block"}]}
    )
    code, output = route(HARD, "--config", str(allowed), "--db", str(db), "--json")
    assert code == 0, output
    assert {c["budget"] for c in json.loads(output)["candidates"] if c["chosen"]} == {"allow"}
    with sqlite3.connect(db) as connection:
        [(open_reservations,)] = connection.execute(
            "SELECT COUNT(*) FROM reservations WHERE status = 'open'"
        ).fetchall()
        [(decisions,)] = connection.execute("SELECT COUNT(*) FROM decisions").fetchall()
    assert (open_reservations, decisions) == (0, 0)
