"""At Agent Zero start-up: install the agent-routing package once if it is missing.

A plugin installed from the Plugin Hub gets `hooks.install()`; one copied into
`usr/plugins/agent_routing/` by hand does not, and would stay inert. This runs before any
agent exists (`startup_migration`, sync) and never raises: start-up always goes on.
"""

import importlib.util
from pathlib import Path

from helpers.extension import Extension

HOOKS = Path(__file__).resolve().parents[3] / "hooks.py"


class AgentRoutingEnsureInstalled(Extension):
    def execute(self, **kwargs):
        if importlib.util.find_spec("agent_routing") is not None and not HOOKS.is_file():
            return  # installed with pip + `agent-routing install`: nothing to check
        try:
            spec = importlib.util.spec_from_file_location("_agent_routing_hooks", HOOKS)
            hooks = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(hooks)
            hooks.ensure_installed()
        except Exception as error:  # start-up must go on
            print(f"[agent-routing] start-up install check failed: {error!r}", flush=True)
