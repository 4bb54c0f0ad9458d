"""Run inside a fresh "Agent Zero Python" (see test_hooks_install.py): what the host does
after cloning the plugin, then one chat turn. Prints one JSON line with what it saw.

argv: <fake Agent Zero root> [hook|startup]: `hook` calls hooks.install() as the host's
installer does, then starts; `startup` only starts (a plugin copied by hand).
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import json
import os
import sys
from pathlib import Path

ROOT = Path(sys.argv[1])
MODE = sys.argv[2] if len(sys.argv) > 2 else "hook"
sys.path.insert(0, str(ROOT))


async def main() -> dict:
    before = importlib.util.find_spec("agent_routing") is not None
    from helpers import migration, plugins

    installed = None
    if MODE == "hook":
        installed = plugins.call_plugin_hook("agent_routing", "install")  # as the installer does
        importlib.invalidate_caches()
    migration.startup_migration()  # start-up: installs a hand copy once; else finds it there
    importlib.invalidate_caches()
    import agent
    import initialize
    import models
    from helpers import extension

    import agent_routing
    from agent_routing.host._runtime import get_runtime
    from agent_routing.ledger import ledger_for

    reply = json.dumps({"tool_name": "response", "tool_args": {"text": "4"}, "thoughts": ["x"]})
    models.PROVIDER.script_main(reply)
    context = agent.AgentContext(initialize.initialize_agent())
    result = await context.communicate(agent.UserMessage(message="What is 2+2?")).result()
    await asyncio.to_thread(context.wait_background)
    runtime = get_runtime(None)
    assert runtime.flush(10.0)
    ledger = ledger_for(runtime.settings.ledger)
    await ledger.open()
    try:
        calls = await ledger.query_calls(conversation_id=context.id)
        decisions = await ledger.query_decisions(conversation_id=context.id)
    finally:
        await ledger.close()
    listed = {item["name"]: item for item in plugins.get_enhanced_plugins_list()}
    return {
        "before": before,
        "installed": installed,
        "package_file": agent_routing.__file__,
        "reply": result,
        "main_models": [c.model for c in models.PROVIDER.main_calls()],
        "chat_calls": [(c.call_kind, c.model, c.decision_id is not None) for c in calls],
        "decisions": [(d.call_kind, d.chosen_model) for d in decisions],
        "plugins": sorted(listed),
        "has_config_screen": listed["agent_routing"]["has_config_screen"],
        "settings_sections": listed["agent_routing"]["settings_sections"],
        "extension_folders": sorted(extension._folder_cache),
        "ledger": os.environ.get("AGENT_ROUTING_HOME"),
    }


print("RESULT " + json.dumps(asyncio.run(main())))
