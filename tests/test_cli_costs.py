"""`agent-routing costs` and `agent-routing budget`: tables, JSON, exit codes, no stray writes."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from agent_routing.cli import main
from agent_routing.ledger import SQLiteLedger, run_sync
from agent_routing.records import CallRecord, Outcome, Usage


def populate(path: Path) -> None:
    """Two calls just now in one conversation: one priced, one on an unpriced local model."""
    now = time.time()
    calls = [
        CallRecord(
            id="a",
            started_at=now - 2,
            model="gpt-4o-mini",
            conversation_id="conv-1",
            outcome=Outcome.OK,
            usage=Usage(1000, 100),
            cost_usd=0.0123,
            latency_ms=420.0,
        ),
        CallRecord(
            id="b",
            started_at=now - 1,
            model="my-local-llm",
            conversation_id="conv-1",
            outcome=Outcome.OK,
            usage=Usage(500, 50),
        ),
    ]

    async def write() -> None:
        async with SQLiteLedger(path) as ledger:
            await ledger.upsert_calls(calls)

    run_sync(write())


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def test_costs_table_shows_models_and_unpriced_calls(tmp_path: Path) -> None:
    """The default table lists each model, the total, and unpriced calls as not counted."""
    db = tmp_path / "ledger.db"
    populate(db)
    code, out = invoke("costs", "--db", str(db))
    assert code == 0, out
    assert "gpt-4o-mini" in out
    assert "$0.0123" in out
    assert "my-local-llm" in out
    assert "unpriced" in out
    assert "Unpriced: 1 served call(s) with no known cost (my-local-llm x1)" in out
    assert "Tasks: 1 (1 successful)" in out


def test_costs_json_is_one_document(tmp_path: Path) -> None:
    """--json prints the report as JSON, grouped as asked."""
    db = tmp_path / "ledger.db"
    populate(db)
    code, out = invoke("costs", "--db", str(db), "--by", "conversation", "--json")
    assert code == 0, out
    data = json.loads(out)
    assert data["by"] == "conversation"
    assert [g["key"] for g in data["groups"]] == ["conv-1"]
    assert data["totals"]["cost_usd"] == pytest.approx(0.0123)
    assert data["unpriced"] == {"calls": 1, "models": {"my-local-llm": 1}}


def test_costs_uses_ledger_path_from_config(tmp_path: Path) -> None:
    """Without --db the ledger path comes from the configuration file."""
    db = tmp_path / "configured.db"
    populate(db)
    config = tmp_path / "config.yaml"
    config.write_text(f"ledger:\n  path: {db}\n  timezone: Asia/Tokyo\n", encoding="utf-8")
    code, out = invoke("costs", "--config", str(config), "--json", "--by", "day")
    assert code == 0, out
    data = json.loads(out)
    assert (data["timezone"], data["totals"]["calls"]) == ("Asia/Tokyo", 2)


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["--by", "provider"], "by"),
        (["--since", "2026-02-30"], "since"),
        (["--until", "last week"], "until"),
        (["--tz", "Mars/Olympus"], "tz"),
    ],
)
def test_costs_bad_input_exits_2_and_writes_nothing(
    tmp_path: Path, args: list[str], field: str
) -> None:
    """A bad --by, date or zone exits 2 naming the field, before any ledger file is made."""
    db = tmp_path / "ledger.db"
    code, out = invoke("costs", "--db", str(db), *args)
    assert code == 2
    assert f"{field}: " in out
    assert not db.exists()


def test_budget_set_show_remove(tmp_path: Path) -> None:
    """set stores a budget, show reports it (table and JSON), remove deletes it."""
    db = tmp_path / "ledger.db"
    populate(db)
    code, out = invoke(
        "budget", "set", "--db", str(db), "--scope", "daily", "--limit-usd", "5",
        "--enforcement", "warn", "--alert", "0.9", "--alert", "0.5",
    )  # fmt: skip
    assert code == 0, out
    assert "Stored budget daily:*" in out
    code, out = invoke("budget", "show", "--db", str(db))
    assert code == 0, out
    assert "daily:*" in out
    assert "$0.0123" in out  # spent today
    code, out = invoke("budget", "show", "--db", str(db), "--json")
    [status] = json.loads(out)["budgets"]
    assert (status["limit_usd"], status["enforcement"], status["source"]) == (5.0, "warn", "stored")
    assert status["alert_thresholds"] == [0.5, 0.9]
    assert status["spent_usd"] == pytest.approx(0.0123)
    code, out = invoke("budget", "remove", "--db", str(db), "daily:*")
    assert (code, out.strip()) == (0, "Removed stored budget daily:*")
    code, out = invoke("budget", "remove", "--db", str(db), "daily:*")
    assert code == 1
    assert "no stored budget with key 'daily:*'" in out


def test_budget_show_lists_config_budgets_and_conversations(tmp_path: Path) -> None:
    """Config budgets appear with their source; a conversation budget needs --conversation."""
    db = tmp_path / "ledger.db"
    populate(db)
    config = tmp_path / "config.yaml"
    config.write_text(
        "budgets:\n  - {scope: conversation, limit_usd: 1}\n"
        "quotas:\n  - {model: gpt-4o-mini, unit: requests, period: day, limit: 100}\n",
        encoding="utf-8",
    )
    code, out = invoke("budget", "show", "--db", str(db), "--config", str(config))
    assert code == 0, out
    assert "pass --conversation" in out
    assert "model=gpt-4o-mini:requests/day" in out
    code, out = invoke(
        "budget", "show", "--db", str(db), "--config", str(config), "--conversation", "conv-1",
        "--json",
    )  # fmt: skip
    data = json.loads(out)
    assert data["budgets"][0]["spent_usd"] == pytest.approx(0.0123)
    assert data["budgets"][0]["source"] == "config"
    assert data["quotas"][0]["used"] == 1  # one gpt-4o-mini request today


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["--scope", "daily", "--limit-usd", "-1"], "--limit-usd"),
        (["--scope", "weekly", "--limit-usd", "1"], "scope"),
        (["--scope", "daily", "--limit-usd", "1", "--enforcement", "ignore"], "enforcement"),
        (["--scope", "daily", "--limit-usd", "1", "--alert", "0"], "alert_thresholds"),
    ],
)
def test_budget_set_bad_input_exits_2_and_writes_nothing(
    tmp_path: Path, args: list[str], field: str
) -> None:
    """An invalid budget exits 2 naming the field; no ledger file is created or changed."""
    db = tmp_path / "ledger.db"
    code, out = invoke("budget", "set", "--db", str(db), *args)
    assert code == 2
    assert f"{field}: " in out
    assert not db.exists()
    populate(db)
    before = db.stat().st_mtime_ns
    code, _ = invoke("budget", "set", "--db", str(db), *args)
    assert code == 2
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT COUNT(*) FROM budget_overrides").fetchone()[0] == 0
    assert db.stat().st_mtime_ns == before


@pytest.mark.parametrize("command", [["costs"], ["budget", "show"]])
def test_unreadable_ledger_exits_1_naming_the_file(tmp_path: Path, command: list[str]) -> None:
    """A file that is not a ledger gives exit code 1 and a message naming it, no traceback."""
    db = tmp_path / "notes.txt"
    db.write_text("not a database, just notes\n" * 100, encoding="utf-8")
    code, out = invoke(*command, "--db", str(db))
    assert code == 1
    assert f"cannot open the ledger {str(db)!r}" in out
    assert "Traceback" not in out


def test_costs_by_conversation_sums_the_rest_in_one_row(tmp_path: Path) -> None:
    """--by conversation --top N lists N conversations and one row for the others."""
    db = tmp_path / "ledger.db"

    async def fill() -> None:
        async with SQLiteLedger(db) as ledger:
            await ledger.write_batch(
                calls=[
                    CallRecord(
                        id=f"c{n}",
                        started_at=1_700_000_000.0 + n,
                        model="gpt-4o-mini",
                        conversation_id=f"conv-{n}",
                        outcome=Outcome.OK,
                        cost_usd=0.01 * (n + 1),
                    )
                    for n in range(5)
                ]
            )

    run_sync(fill())
    code, out = invoke("costs", "--db", str(db), "--by", "conversation", "--top", "2")
    assert code == 0, out
    assert "conv-4" in out
    assert "conv-3" in out
    assert "conv-2" not in out
    assert "(3 more)" in out
    code, out = invoke("costs", "--db", str(db), "--by", "conversation", "--top", "2", "--json")
    data = json.loads(out)
    assert [g["key"] for g in data["groups"]] == ["conv-4", "conv-3"]
    assert data["other"]["calls"] == 3
    assert data["other"]["cost_usd"] == pytest.approx(0.06)
