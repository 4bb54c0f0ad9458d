"""initialize_agent(): an AgentConfig from settings (G2: no model fields)."""

from __future__ import annotations

from typing import Any

from agent import AgentConfig


def initialize_agent(override_settings: dict[str, Any] | None = None) -> AgentConfig:
    settings = dict(override_settings or {})
    return AgentConfig(mcp_servers="", profile=settings.get("agent_profile", "agent0"))
