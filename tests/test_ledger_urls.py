"""Ledger locations by URL: one registry, clear errors naming the field, no password shown."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from pgserver import PASSWORD, PostgresServer

from agent_routing.budgets import Budgets
from agent_routing.cli import main as cli
from agent_routing.config import BudgetConfig, LedgerSettings, Settings, load_settings
from agent_routing.errors import ConfigError
from agent_routing.ledger import LedgerError, LedgerWriter, SQLiteLedger, get_writer, ledger_for
from agent_routing.ledger.postgres import PostgresLedger
from agent_routing.ledger.urls import parse_ledger_url, redact
from agent_routing.records import CallRecord, Outcome


def test_paths_and_sqlite_urls_open_sqlite(tmp_path: Path) -> None:
    """A path, sqlite:///relative and sqlite:////absolute all name a SQLite file."""
    assert parse_ledger_url(str(tmp_path / "a.db")).path == tmp_path / "a.db"
    assert parse_ledger_url("sqlite:///rel/b.db").path == Path("rel/b.db")
    assert parse_ledger_url(f"sqlite:///{tmp_path}/c.db").path == tmp_path / "c.db"
    assert isinstance(ledger_for(path=f"sqlite:///{tmp_path}/c.db"), SQLiteLedger)
    assert isinstance(ledger_for(path=tmp_path / "d.db"), SQLiteLedger)


def test_postgresql_urls_open_postgresql_and_never_show_the_password() -> None:
    """postgresql:// and postgres:// choose PostgreSQL; str(), repr() and errors hide the
    password (in the netloc and as a query parameter)."""
    target = parse_ledger_url("postgres://bob:hunter2@db.internal:5433/ledger?sslmode=require")
    assert target.scheme == "postgresql"
    assert target.dsn.startswith("postgresql://bob:hunter2@")
    assert str(target) == "postgresql://bob:***@db.internal:5433/ledger?sslmode=require"
    assert "hunter2" not in repr(target)
    assert isinstance(ledger_for(path=target), PostgresLedger)
    assert redact("postgresql://h/db?password=hunter2&user=bob") == (
        "postgresql://h/db?password=***&user=bob"
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("mysql://u:hunter2@h/db", "unsupported ledger URL scheme 'mysql'"),
        ("postgresql://u:hunter2@h:notaport/db", "malformed PostgreSQL URL"),
        ("postgresql://u:hunter2@h:5432/", "must name one database"),
        ("postgresql://u:hunter2@/db", "must name a host"),
        ("sqlite://relative.db", "three slashes"),
        ("", "must not be empty"),
    ],
)
def test_bad_locations_are_refused_naming_the_field(value: str, message: str) -> None:
    """Each bad location is a ConfigError naming the field; the password never appears."""
    with pytest.raises(ConfigError) as caught:
        parse_ledger_url(value, "ledger.url")
    assert caught.value.problems[0][0] == "ledger.url"
    assert message in caught.value.problems[0][1]
    assert "hunter2" not in str(caught.value)


def test_configuration_names_the_field_it_came_from(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ledger.url, ledger.path given a URL, and AGENT_ROUTING_DB are each refused naming
    themselves."""
    config = tmp_path / "c.yaml"
    config.write_text("ledger:\n  url: 'redis://h/0'\n")
    with pytest.raises(ConfigError, match=r"ledger\.url: unsupported"):
        load_settings(config)
    config.write_text("ledger:\n  path: 'postgresql://h/db'\n")
    with pytest.raises(ConfigError, match=r"ledger\.path: a URL goes in ledger\.url"):
        load_settings(config)
    monkeypatch.setenv("AGENT_ROUTING_DB", "mysql://h/db")
    with pytest.raises(ConfigError, match="AGENT_ROUTING_DB: unsupported"):
        load_settings()


def test_agent_routing_db_url_no_longer_creates_a_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """AGENT_ROUTING_DB=postgresql://... (the old bug: a folder named `postgresql:`) now
    selects the PostgreSQL backend for capture's writer and creates nothing on disk."""
    workdir = tmp_path / "work"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    monkeypatch.setenv("AGENT_ROUTING_DB", "postgresql://u:pw@127.0.0.1:9/ledger")
    settings = load_settings()
    assert settings.ledger.resolved_url().scheme == "postgresql"
    writer = get_writer(settings=settings.ledger)
    assert "pw" not in str(writer.path)
    assert list(workdir.iterdir()) == []


def test_pool_settings_are_validated() -> None:
    """ledger.pool_size and connect_timeout_s are bounded, naming the field."""
    with pytest.raises(ConfigError, match=r"ledger\.pool_size"):
        load_settings_from({"ledger": {"pool_size": 0}})
    with pytest.raises(ConfigError, match=r"ledger\.connect_timeout_s"):
        load_settings_from({"ledger": {"connect_timeout_s": -1}})


def load_settings_from(data: dict[str, Any]) -> Settings:
    from agent_routing.config import settings_from_mapping

    return settings_from_mapping(data)


# --- against a real server ---------------------------------------------------------------


async def test_wrong_credentials_and_unreachable_server_name_the_field(
    pg_server: PostgresServer,
) -> None:
    """Wrong password: LedgerError naming ledger.url and the server's reason, no password.
    Nothing listening: the same, quickly."""
    with pytest.raises(LedgerError) as caught:
        await PostgresLedger(pg_server.url("postgres", password="wrong-pw")).open()
    text = str(caught.value)
    assert text.startswith("ledger.url: cannot connect to postgresql://routing:***@")
    assert "password authentication failed" in text
    assert "wrong-pw" not in text
    started = time.monotonic()
    with pytest.raises(LedgerError, match=r"ledger\.url: cannot connect"):
        await PostgresLedger("postgresql://u:pw@127.0.0.1:9/x", connect_timeout_s=2).open()
    assert time.monotonic() - started < 30


async def test_block_budget_fails_closed_when_the_server_cannot_be_used(
    pg_server: PostgresServer,
) -> None:
    """With the ledger unusable (wrong credentials), a block budget refuses the call: no
    reservation, no money spent unchecked (fail closed for money)."""
    ledger = PostgresLedger(pg_server.url("postgres", password="wrong-pw"))
    with pytest.raises(LedgerError):
        await ledger.open()
    settings = Settings(budgets=[BudgetConfig(scope="daily", limit_usd=5, enforcement="block")])
    verdict = await Budgets(ledger, settings).check(
        model="gpt-4o-mini", conversation_id="c", input_tokens=100
    )
    assert verdict.action == "block"
    assert verdict.reservation_id is None


def test_recording_is_retried_and_logged_until_the_server_takes_it(
    pg_server: PostgresServer, caplog: pytest.LogCaptureFixture
) -> None:
    """A writer pointed at a database that does not exist yet keeps every record queued,
    logs the reason (no password), and writes them all once the database exists."""
    name = f"late_{int(time.time() * 1000)}"
    url = pg_server.url(name)
    writer = LedgerWriter(
        Path("late"),
        LedgerSettings(flush_interval_ms=10),
        ledger_factory=lambda: ledger_for(path=url),
    )
    with caplog.at_level(logging.WARNING, logger="agent_routing.ledger"):
        for index in range(50):
            writer.submit(CallRecord(id=f"r{index}", started_at=time.time(), model="m"))
        assert writer.flush(timeout=1.0) is False
        assert f'database "{name}" does not exist' in caplog.text
        assert PASSWORD not in caplog.text
    pg_server.create_database(name)
    assert writer.flush(timeout=60)
    assert writer.stats().retries > 0

    async def count() -> int:
        ledger = ledger_for(path=url)
        await ledger.open()
        try:
            return len(await ledger.query_calls())
        finally:
            await ledger.close()

    assert asyncio.run(count()) == 50
    writer.close(10)


def test_cli_and_doctor_use_a_server_url(pg_server: PostgresServer) -> None:
    """`budget set`, `costs` and `doctor` work on --db postgresql://...; doctor names the
    URL without its password; a wrong password fails naming ledger.url, exit 1, without
    the password; a bad scheme exits 2 naming db."""
    url = pg_server.create_database()
    runner = CliRunner()
    stored = runner.invoke(
        cli, ["budget", "set", "--scope", "daily", "--limit-usd", "5", "--db", url]
    )
    assert stored.exit_code == 0, stored.output
    costs = runner.invoke(cli, ["costs", "--db", url, "--json"])
    assert costs.exit_code == 0, costs.output
    assert json.loads(costs.output)["totals"]["calls"] == 0
    doctor = runner.invoke(cli, ["doctor", "--db", url, "--json"])
    ledger_check = next(c for c in json.loads(doctor.output)["checks"] if c["name"] == "ledger")
    assert ledger_check["ok"], ledger_check
    assert ledger_check["facts"]["backend"] == "postgresql"
    assert ledger_check["facts"]["url"] == url.replace(PASSWORD, "***")
    assert PASSWORD not in doctor.output
    wrong = url.replace(PASSWORD, "wrong-pw")
    refused = runner.invoke(cli, ["costs", "--db", wrong])
    assert refused.exit_code == 1
    assert "ledger.url: cannot connect" in refused.output
    assert "wrong-pw" not in refused.output
    bad_doctor = runner.invoke(cli, ["doctor", "--db", wrong, "--json"])
    assert bad_doctor.exit_code == 1
    assert "wrong-pw" not in bad_doctor.output
    bad = runner.invoke(cli, ["costs", "--db", "mysql://h/db"])
    assert bad.exit_code == 2
    assert "db: unsupported ledger URL scheme" in bad.output


def test_capture_records_into_a_server_named_by_agent_routing_db(
    pg_server: PostgresServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With AGENT_ROUTING_DB=postgresql://..., capture's writer records a call in that
    database, priced (no file is involved: the handle has no db_path)."""
    from agent_routing.capture import begin_call, enable_capture, end_call

    url = pg_server.create_database()
    monkeypatch.setenv("AGENT_ROUTING_DB", url)
    handle = enable_capture(settings=load_settings())
    try:
        assert handle.db_path is None
        call_id = begin_call(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], kind="chat"
        )
        end_call(call_id, response_text="hello")
        assert handle.flush(30)
    finally:
        handle.close()

    async def calls() -> list[CallRecord]:
        ledger = ledger_for(path=url)
        await ledger.open()
        try:
            return await ledger.query_calls()
        finally:
            await ledger.close()

    (recorded,) = asyncio.run(calls())
    assert recorded.id == call_id
    assert recorded.outcome is Outcome.OK
    assert recorded.cost_usd is not None
    assert recorded.cost_usd > 0


async def test_postgresql_keeps_records_with_text_it_cannot_store(
    pg_server: PostgresServer,
) -> None:
    """PostgreSQL text holds no NUL and no lone surrogate: such a record is stored with
    those characters escaped, never rejected (no record lost)."""
    ledger = PostgresLedger(pg_server.create_database())
    await ledger.open()
    try:
        record = CallRecord(
            id="odd",
            started_at=time.time(),
            model="m",
            conversation_id="ctx-\udcff",
            error_message="bad\x00byte",
            outcome=Outcome.ERROR,
        )
        await ledger.upsert_calls([record])
        (stored,) = await ledger.query_calls()
    finally:
        await ledger.close()
    assert stored.conversation_id == "ctx-\\udcff"
    assert stored.error_message == "bad\\x00byte"


async def test_plugin_budget_guard_fails_closed_on_an_unusable_server(
    pg_server: PostgresServer, caplog: pytest.LogCaptureFixture
) -> None:
    """The plugin's per-loop budgets on a server it cannot log into: a block budget refuses
    the call, and the log names the URL without its password."""
    from agent_routing.budgets.guard import PerLoopBudgets

    settings = Settings(
        ledger={"url": pg_server.url("postgres", password="wrong-pw")},
        budgets=[BudgetConfig(scope="daily", limit_usd=5, enforcement="block")],
    )
    guard = PerLoopBudgets(settings)
    with caplog.at_level(logging.ERROR):
        verdict = await guard.check(model="gpt-4o-mini", conversation_id="c", input_tokens=100)
    assert verdict.action == "block"
    assert "routing:***@" in caplog.text
    assert "wrong-pw" not in caplog.text
