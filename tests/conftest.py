"""Test-wide fixtures: offline litellm, and a home directory the tests cannot escape."""

from __future__ import annotations

import os
import sys

# Before anything imports litellm: use the price map shipped in the wheel, never the network.
os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
os.environ["LITELLM_TELEMETRY"] = "False"

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point AGENT_ROUTING_HOME at a fresh directory; drop any ledger/config from the real env."""
    home = tmp_path / "agent-routing-home"
    home.mkdir()
    monkeypatch.setenv("AGENT_ROUTING_HOME", str(home))
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
