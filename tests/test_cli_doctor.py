"""`agent-routing doctor`: each check really exercises what it vouches for."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from agent_routing.cli import doctor, main
from agent_routing.ledger import SQLiteLedger, run_sync


def run(*args: str) -> Result:
    return CliRunner().invoke(main, ["doctor", *args], catch_exceptions=False)


def test_healthy_setup_passes_every_check(tmp_path: Path) -> None:
    """With a writable ledger, every check passes: one line each, exit code 0."""
    db = tmp_path / "ledger.db"
    result = run("--db", str(db))
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert [line.split()[:2] for line in lines] == [
        ["ok", "config"],
        ["ok", "ledger"],
        ["ok", "price"],
        ["ok", "tokenizers"],
        ["ok", "litellm"],
        ["ok", "spool"],
    ]


def test_ledger_probe_is_rolled_back(tmp_path: Path) -> None:
    """An existing ledger is migrated and probed, but the probe row is not left in it."""
    db = tmp_path / "ledger.db"

    async def create() -> None:
        async with SQLiteLedger(db):
            pass

    run_sync(create())
    assert run("--db", str(db)).exit_code == 0
    with sqlite3.connect(db) as connection:
        assert connection.execute("SELECT COUNT(*) FROM calls").fetchone() == (0,)
        assert connection.execute("SELECT COUNT(*) FROM _routing_migrations").fetchone()[0] > 0


def test_unwritable_ledger_fails_with_exit_1(tmp_path: Path) -> None:
    """A ledger path under a regular file cannot be created: ledger check fails, exit 1."""
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("x")
    result = run("--db", str(blocker / "ledger.db"), "--json")
    assert result.exit_code == 1
    checks = {check["name"]: check for check in json.loads(result.stdout)["checks"]}
    assert not checks["ledger"]["ok"]
    assert str(blocker) in checks["ledger"]["detail"]
    assert checks["tokenizers"]["ok"]
    assert checks["litellm"]["ok"]


def test_invalid_config_fails_but_other_checks_still_run(tmp_path: Path) -> None:
    """A configuration error is reported by the config check; the rest still run."""
    config = tmp_path / "config.yaml"
    config.write_text("router:\n  strategy: cheapest_ever\n")
    result = run("--config", str(config), "--db", str(tmp_path / "l.db"), "--json")
    assert result.exit_code == 1
    payload = json.loads(result.stdout)
    assert not payload["ok"]
    config_check, *others = payload["checks"]
    assert not config_check["ok"]
    assert "router.strategy" in config_check["detail"]
    assert all(check["ok"] for check in others)


def test_price_map_check_fails_when_the_offline_flag_is_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """If LITELLM_LOCAL_MODEL_COST_MAP is not 'True', litellm fetches prices online: fail."""
    monkeypatch.setenv("LITELLM_LOCAL_MODEL_COST_MAP", "False")
    check = doctor.check_price_map()
    assert not check.ok
    assert "'False'" in check.detail


def test_price_map_check_counts_the_offline_map() -> None:
    """The loaded map is the one shipped in the wheel."""
    check = doctor.check_price_map()
    assert check.ok
    assert "models" in check.detail


def test_missing_tokenizer_files_fail(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Without the bundled tiktoken files the tokenizer check fails, naming them."""
    monkeypatch.setattr("agent_routing.tokens.tokenizer_dir", lambda: tmp_path)
    check = doctor.check_tokenizers()
    assert not check.ok
    assert "cl100k_base" in check.detail
    assert "o200k_base" in check.detail


@pytest.mark.parametrize(
    ("version", "ok"),
    [
        ("1.79.3", True),
        ("1.80.11", True),
        ("1.82.7", False),
        ("1.82.8", False),
        ("1.107.0", False),
        ("1.78.9", False),
        ("2.0.0", False),
    ],
)
def test_litellm_version_range_and_compromised_releases(version: str, ok: bool) -> None:
    """Versions outside >=1.79.3,<2, or compromised (1.82.7, 1.82.8, 1.107.0), fail."""
    assert doctor.check_litellm_version(version).ok is ok


def test_spool_check_counts_waiting_files_and_fails_on_unreadable_ones(
    tmp_path: Path, isolated_home: Path
) -> None:
    """Records spooled at exit are reported as waiting (still ok); a `.bad` file fails."""
    from agent_routing.ledger import spool
    from agent_routing.records import OutcomeSignal

    signal = OutcomeSignal(decision_id="d", kind="success", created_at=1.0)
    saved = spool.save("some ledger", "ledger.db", [(2, signal)])
    assert saved is not None
    waiting = doctor.check_spool()
    assert waiting.ok
    assert "1 file(s)" in waiting.detail
    saved.rename(saved.with_name(saved.name + ".bad"))
    result = run("--db", str(tmp_path / "ledger.db"), "--json")
    assert result.exit_code == 1
    checks = {check["name"]: check for check in json.loads(result.stdout)["checks"]}
    assert not checks["spool"]["ok"]
    assert "1 unreadable file(s)" in checks["spool"]["detail"]
