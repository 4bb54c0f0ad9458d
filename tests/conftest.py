"""Test-wide fixtures: offline litellm, and a home directory the tests cannot escape."""

from __future__ import annotations

import os

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
