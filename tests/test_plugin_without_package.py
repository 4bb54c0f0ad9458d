"""Installed plugin files without the package in Agent Zero's Python: inert, nothing breaks."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from fakehost import FakeHost, fake_host, respond, tool_call

__all__ = ["fake_host"]

# Every agent_routing module the plugin files import at their top (extensions, tool, api).
PLUGIN_IMPORTS = ("agent_routing", "agent_routing.host", "agent_routing.config")


async def test_plugin_files_stay_inert_when_the_package_is_missing(
    fake_host: FakeHost, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With `agent_routing` unimportable (None in sys.modules makes every import of it raise
    ImportError), each extension, the tool and the API load, do nothing, and the host's turn
    completes as if the plugin were absent; the API answers 503 with a JSON reason."""
    with monkeypatch.context() as patch:  # undone before the host is torn down
        # every loaded agent_routing module (a cached submodule imports without its parent)
        loaded = [name for name in sys.modules if name.split(".")[0] == "agent_routing"]
        for name in {*loaded, *PLUGIN_IMPORTS}:
            patch.setitem(sys.modules, name, None)
        fake_host.provider.script_main(tool_call("code_execution_tool", code="ls"), respond("done"))
        context = fake_host.new_context()
        assert await fake_host.send(context, "List the files, then answer.") == "done"
        assert len(fake_host.provider.main_calls()) == 2
        assert not [item for item in context.log.logs if item.type == "error"]
        # nothing ran: no ledger was created, no model was swapped
        assert not (Path(os.environ["AGENT_ROUTING_HOME"]) / "ledger.db").exists()
        assert {call.model for call in fake_host.provider.main_calls()} == {"openai/gpt-4o"}
        status, body = await fake_host.api_call("costs")
        assert (status, body) == (503, {"error": "agent-routing is not installed"})
        for name in PLUGIN_IMPORTS:
            with pytest.raises(ImportError):
                __import__(name)
