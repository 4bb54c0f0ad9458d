"""The fake Agent Zero harness: a copy of `tests/fake_a0` with the plugin installed into it.

`make_host(tmp_path, mode=...)` copies the fake root, sets which Agent Zero it plays
(:data:`HOST_MODES`), runs the real installer on it (so tests load the plugin exactly as a
user gets it), puts the copy first on `sys.path` and imports the host's modules.
`FakeHost.close()` undoes all of that, so the next test starts from a fresh host.

Use the `fake_host` fixture (import it into a test module): it runs each test once per
host version, v1.7 and v2 (the v2 run is marked `slow`, so `-m "not slow"` keeps v1.7
only), or `make_host` directly for a given mode.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

FAKE_A0 = Path(__file__).resolve().parent / "fake_a0"
HOST_TOP_LEVEL = ("agent", "models", "initialize", "helpers", "tools", "api", "plugins", "usr")
HOST_TOP_LEVEL += ("langchain_core", "extensions", "prompts")

# mode -> (VERSION, API_MODE, USAGE_DRAIN) written into the copy's helpers/host_version.py
HOST_MODES: dict[str, tuple[str, str, bool]] = {
    "v1.7": ("1.7", "chat", False),
    # later v2 (Oct 2026): Chat Completions, usage drain by the built-in _context_window
    "v2": ("2", "chat", True),
    # v2 at the July 2026 code: Chat Completions cut at the first tool JSON, no drain
    "v2-chat": ("2", "chat", False),
    # v2 at the July 2026 code's default: Responses API with provider state
    "v2-responses": ("2", "responses", False),
}
BOTH_VERSIONS = ["v1.7", pytest.param("v2", marks=pytest.mark.slow)]
V2_TRANSPORTS = [
    pytest.param("v2", marks=pytest.mark.slow),
    pytest.param("v2-chat", marks=pytest.mark.slow),
    pytest.param("v2-responses", marks=pytest.mark.slow),
]


# Stopped host loops and the tasks that never finished cancelling (litellm's logging worker
# waiting on a callback queued from another loop): kept referenced so they are not
# garbage-collected mid-flight, which would only print "Task was destroyed" noise.
_RETIRED: list[Any] = []


def _purge_host_modules() -> None:
    for name in list(sys.modules):
        if name.split(".")[0] in HOST_TOP_LEVEL:
            del sys.modules[name]


def _reset_litellm_logging_worker() -> None:
    """Give each fake host what a fresh process has: litellm's async logging worker unbound.

    litellm binds that worker's queue to the first event loop that logs; each fake host has
    new loop threads, and a queue bound to a previous test's closed loop would lose every
    later async success callback (the real host runs one process, so it never sees this).
    """
    from agent_routing._litellm import litellm_module

    litellm_module()
    from litellm.litellm_core_utils import logging_worker

    logging_worker.GLOBAL_LOGGING_WORKER._queue = None
    logging_worker.GLOBAL_LOGGING_WORKER._worker_task = None


def copy_fake_root(destination: Path) -> Path:
    """A fresh copy of the fake Agent Zero root at `destination`."""
    shutil.copytree(FAKE_A0, destination, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return destination


def tool_call(tool_name: str, **tool_args: Any) -> str:
    """An LLM reply that calls `tool_name` the way the host's prompt asks for."""
    return json.dumps(
        {
            "thoughts": ["next step"],
            "headline": tool_name,
            "tool_name": tool_name,
            "tool_args": tool_args,
        }
    )


def respond(text: str) -> str:
    """An LLM reply that ends the task with `text` (the `response` tool)."""
    return tool_call("response", text=text)


@dataclass(frozen=True)
class LedgerView:
    """Everything the ledger holds after a test's turns (flushed first)."""

    calls: list[Any]
    decisions: list[Any]
    signals: list[Any]

    def calls_of(self, kind: str) -> list[Any]:
        return [c for c in self.calls if c.call_kind == kind]


@dataclass
class FakeHost:
    """A running fake Agent Zero: its root folder and its imported modules."""

    mode: str
    root: Path
    agent: ModuleType
    models: ModuleType
    initialize: ModuleType
    extension: ModuleType
    api: ModuleType
    plugins: ModuleType

    @property
    def is_v2(self) -> bool:
        return self.mode != "v1.7"

    @property
    def provider(self) -> Any:
        """The scripted stand-in for the network (`models.PROVIDER`)."""
        return self.models.PROVIDER

    @property
    def plugin_dir(self) -> Path:
        return self.root / "usr" / "plugins" / "agent_routing"

    def new_context(self) -> Any:
        """A new chat (AgentContext) with a fresh config."""
        return self.agent.AgentContext(self.initialize.initialize_agent())

    async def send(self, context: Any, text: str, *, wait_background: bool = True) -> str | None:
        """Send a user message and run the turn to its end (None: the turn ended on an error).

        With `wait_background` (default) it also waits for the background tasks the turn
        started (memorisation); a benchmark timing the turn alone passes False and calls
        `context.wait_background()` afterwards.
        """
        task = context.communicate(self.agent.UserMessage(message=text))
        result = await task.result()
        if wait_background:
            await asyncio.to_thread(context.wait_background)
        return result

    def configure(self, config: dict[str, Any]) -> None:
        """Save the plugin's config the way the settings UI does (config.json, no merge)."""
        self.plugins.save_plugin_config("agent_routing", config)

    def configure_models(self, **sections: dict[str, Any]) -> None:
        """Write `usr/plugins/_model_config/config.json` (a complete config, as the UI does)."""
        base = self.plugins.get_plugin_config("_model_config") or {}
        base.update(sections)
        self.plugins.save_plugin_config("_model_config", base)

    def hot_reload(self) -> None:
        """What the plugin watchdog does on a file change: extension modules get re-executed."""
        self.extension.clear_cache()

    async def api_call(
        self,
        handler: str,
        method: str = "GET",
        *,
        args: dict[str, str] | None = None,
        json_body: Any = None,
        csrf: bool = True,
    ) -> tuple[int, Any]:
        """Call `/api/plugins/agent_routing/<handler>`; returns (status, parsed body or text)."""
        response = await self.api.dispatch(
            f"plugins/agent_routing/{handler}",
            method,
            args=args,
            json_body=json_body,
            csrf=csrf,
        )
        text = response.get_data(as_text=True)
        body = json.loads(text) if response.mimetype == "application/json" else text
        return response.status_code, body

    async def ledger(self) -> LedgerView:
        """Flush capture, then read calls, decisions and signals from the ledger file."""
        from agent_routing.host._runtime import get_runtime
        from agent_routing.ledger import ledger_for

        runtime = get_runtime(None)
        assert await asyncio.to_thread(runtime.flush, 10.0)
        ledger = ledger_for(runtime.settings.ledger)
        await ledger.open()
        try:
            return LedgerView(
                await ledger.query_calls(),
                await ledger.query_decisions(),
                await ledger.query_signals(),
            )
        finally:
            await ledger.close()

    def close(self) -> None:
        """Stop the host's loop threads; remove it from sys.path and sys.modules."""
        from helpers.defer import EventLoopThread

        from agent_routing.host._runtime import reset_runtime

        _RETIRED.extend(EventLoopThread.shutdown_all())
        reset_runtime(timeout=2.0)  # a healthy ledger takes milliseconds; a broken one spools
        _purge_host_modules()
        while str(self.root) in sys.path:
            sys.path.remove(str(self.root))


def set_host_mode(root: Path, mode: str) -> None:
    """Make the fake root at `root` play `mode` (one of :data:`HOST_MODES`)."""
    version, api_mode, drain = HOST_MODES[mode]
    (root / "helpers" / "host_version.py").write_text(
        (FAKE_A0 / "helpers" / "host_version.py")
        .read_text(encoding="utf-8")
        .replace('VERSION = "1.7"', f"VERSION = {version!r}")
        .replace('API_MODE = "chat"', f"API_MODE = {api_mode!r}")
        .replace("USAGE_DRAIN = False", f"USAGE_DRAIN = {drain!r}"),
        encoding="utf-8",
    )


def make_host(tmp_path: Path, *, install: bool = True, mode: str = "v1.7") -> FakeHost:
    """Copy the fake root into `tmp_path`, install the plugin with the real installer, import."""
    from agent_routing import installer

    root = copy_fake_root(tmp_path / "a0")
    set_host_mode(root, mode)
    if install:
        installer.install(root)
    _purge_host_modules()
    _reset_litellm_logging_worker()
    sys.path.insert(0, str(root))
    import agent
    import initialize
    import models
    from helpers import api, extension, plugins

    agent.ERROR_RETRY_DELAY_S = 0.0
    return FakeHost(mode, root, agent, models, initialize, extension, api, plugins)


@pytest.fixture(params=BOTH_VERSIONS)
def fake_host(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[FakeHost]:
    """A fake Agent Zero (v1.7, then v2) with the plugin installed by the installer."""
    host = make_host(tmp_path, mode=request.param)
    try:
        yield host
    finally:
        host.close()


@pytest.fixture
def bare_host(tmp_path: Path) -> Iterator[FakeHost]:
    """The fake Agent Zero WITHOUT the plugin (to test the host itself)."""
    host = make_host(tmp_path, install=False)
    try:
        yield host
    finally:
        host.close()
