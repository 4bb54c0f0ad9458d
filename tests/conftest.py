"""Test-wide fixtures: offline litellm, and a home directory the tests cannot escape."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

# Before anything imports litellm: use the price map shipped in the wheel, never the network.
os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
os.environ["LITELLM_TELEMETRY"] = "False"

from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # tests/pgserver.py for the fixtures below


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point AGENT_ROUTING_HOME at a fresh directory; drop any ledger/config from the real env;
    an 80-column terminal whatever runs the tests."""
    home = tmp_path / "agent-routing-home"
    home.mkdir()
    monkeypatch.setenv("AGENT_ROUTING_HOME", str(home))
    monkeypatch.setenv("COLUMNS", "80")  # CLI tables fit the terminal: make it one width
    for name in list(os.environ):
        if name in {"AGENT_ROUTING_DB", "AGENT_ROUTING_CONFIG"} or name.startswith(
            "AGENT_ROUTING__"
        ):
            monkeypatch.delenv(name, raising=False)
    return home


@pytest.fixture(autouse=True)
def fresh_litellm_logging_worker() -> None:
    """Unbind litellm's async logging worker from the previous test's (closed) event loop.

    litellm binds that worker's queue to the first loop that logs; each async test runs on a
    new loop, and a queue bound to a dead one silently drops every later async success
    callback, which made capture tests depend on test order. A fresh process starts unbound;
    so does every test. Only done once litellm is imported (tests that never use it stay fast).
    """
    worker_module = sys.modules.get("litellm.litellm_core_utils.logging_worker")
    if worker_module is not None:
        worker_module.GLOBAL_LOGGING_WORKER._queue = None
        worker_module.GLOBAL_LOGGING_WORKER._worker_task = None


@pytest.fixture(autouse=True)
def close_ledger_writers() -> Iterator[None]:
    """Close the ledger writers a test made (2 s each at most; one whose ledger never opened
    spools at once), so none keeps retrying into later tests or delays the exit of pytest.
    Tests that never import the writer pay nothing."""
    module = sys.modules.get("agent_routing.ledger.writer")
    before = set(module.live_writers()) if module is not None else set()
    yield
    module = sys.modules.get("agent_routing.ledger.writer")
    if module is not None:
        module.close_writers(
            [writer for writer in module.live_writers() if writer not in before], timeout=2.0
        )


# --- ledger backends (#14): every ledger contract test runs on SQLite and PostgreSQL ---

BACKENDS = ("sqlite", "postgresql")


@pytest.fixture(scope="session")
def pg_server() -> Any:
    """A real PostgreSQL server for the whole session (tests/pgserver.py), stopped at the
    end. When it cannot start, PostgreSQL tests fail under CI=true and skip elsewhere."""
    from pgserver import PostgresServer, PostgresUnavailable

    try:
        server = PostgresServer().start()
    except (PostgresUnavailable, OSError, subprocess.SubprocessError) as error:
        message = f"PostgreSQL server unavailable: {error}"
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(message)
        pytest.skip(message)
    yield server
    server.stop()


@pytest.fixture(params=BACKENDS)
def ledger_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The location of a fresh, empty ledger: a SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        return str(tmp_path / "ledger.db")
    server = request.getfixturevalue("pg_server")
    return str(server.create_database())


@pytest.fixture
async def backend_ledger(ledger_url: str) -> Any:
    """An opened ledger of each backend (through the registry), closed after the test."""
    from agent_routing.ledger import ledger_for

    ledger = ledger_for(path=ledger_url)
    await ledger.open()
    yield ledger
    await ledger.close()


# Fixtures that play whole Agent Zero turns on the fake host (tests/fakehost.py), drive a
# browser process (tests/ui/conftest.py) or need the PostgreSQL server process.
HOST_TURN_FIXTURES = frozenset({"fake_host", "bare_host", "ui_host", "chromium", "pg_server"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark `slow` every test that plays whole host turns, drives a browser or needs the
    PostgreSQL server (it uses one of those fixtures), so a new such test is marked without
    anyone remembering to; tests that spawn processes carry `@pytest.mark.slow` themselves."""
    for item in items:
        if HOST_TURN_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """Say which random order ran (pytest-randomly), so a failure that depends on the order
    can be replayed: pass the same seed."""
    seed = getattr(config.option, "randomly_seed", None)
    if isinstance(seed, int) and config.pluginmanager.has_plugin("randomly"):
        terminalreporter.write_line(
            f"test order: random, seed {seed} (replay it: python -m pytest --randomly-seed={seed})"
        )
