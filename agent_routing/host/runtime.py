"""The plugin's per-process state: settings, capture, budgets and routers.

Agent Zero re-executes extension modules whenever their cache is refilled, so nothing can
live in them. It lives here instead, in a module imported normally (it stays in
`sys.modules` for the life of the process). :func:`get_runtime` returns the runtime for the
plugin configuration currently in force, rebuilding it when the configuration changes (the
settings UI rewrites `config.json`), and enables capture once per process.

Agent Zero runs hooks on several event loops (each chat's task thread, background tasks,
API requests). The ledger connection guards its transactions with an asyncio lock, which
belongs to one loop, so budgets get one ledger connection per event loop
(:class:`LoopLocalBudgets`); routers are shared and reach budgets through it.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import threading
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from agent_routing.config import Settings, TierConfig, apply_env_overrides, settings_from_mapping
from agent_routing.errors import ConfigError
from agent_routing.host.layout import PLUGIN_NAME, host_module
from agent_routing.protocols import BudgetVerdict, CallSink

if TYPE_CHECKING:
    from agent_routing.budgets import Budgets, BudgetStatus
    from agent_routing.capture import CaptureHandle
    from agent_routing.router import CooldownRegistry, Router

logger = logging.getLogger("agent_routing.host")

_lock = threading.Lock()


class LoopLocalBudgets:
    """A BudgetGuard that keeps one ledger connection and `Budgets` per event loop."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._per_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Budgets] = (
            weakref.WeakKeyDictionary()
        )
        self._lock = threading.Lock()

    async def instance(self) -> Budgets:
        """This event loop's `Budgets` (and ledger connection), opened on first use."""
        loop = asyncio.get_running_loop()
        with self._lock:
            found = self._per_loop.get(loop)
        if found is not None:
            return found
        from agent_routing.budgets import Budgets
        from agent_routing.ledger import ledger_for

        ledger = ledger_for(self.settings.ledger)
        await ledger.open()
        budgets = Budgets(ledger, self.settings)
        with self._lock:
            self._per_loop[loop] = budgets
        return budgets

    async def check(
        self,
        *,
        model: str,
        conversation_id: str | None,
        input_tokens: int,
        max_output_tokens: int | None = None,
        call_kind: str = "chat",
    ) -> BudgetVerdict:
        """See :meth:`agent_routing.budgets.Budgets.check`."""
        budgets = await self.instance()
        return await budgets.check(
            model=model,
            conversation_id=conversation_id,
            input_tokens=input_tokens,
            max_output_tokens=max_output_tokens,
            call_kind=call_kind,
        )

    async def release(self, reservation_id: str) -> None:
        """Drop a reservation whose call never happened."""
        await (await self.instance()).release(reservation_id)

    async def quota_available(self, model: str, *, input_tokens: int = 0) -> bool:
        """False when the model is at a configured quota."""
        return await (await self.instance()).quota_available(model, input_tokens=input_tokens)

    async def status(self, conversation_id: str | None = None) -> list[BudgetStatus]:
        """Every effective budget and its spend in the current period."""
        return await (await self.instance()).status(conversation_id)


@dataclass
class PluginRuntime:
    """Everything the hooks share within one process, for one plugin configuration."""

    settings: Settings
    digest: str
    capture: CaptureHandle | None
    budgets: LoopLocalBudgets
    cooldowns: CooldownRegistry
    config_error: str | None = None
    _routers: dict[str, Router] = field(default_factory=dict)

    @property
    def sink(self) -> CallSink | None:
        """Where decisions, signals and call records go (the capture's ledger writer)."""
        return self.capture.sink if self.capture is not None else None

    def router_for(self, tiers: Sequence[TierConfig]) -> Router:
        """The router for this tier list (built once; ConfigError if the tiers are invalid)."""
        from agent_routing.router import Router

        key = json.dumps([tier.model_dump(mode="json") for tier in tiers], sort_keys=True)
        with _lock:
            router = self._routers.get(key)
            if router is None:
                router = Router(
                    self.settings,
                    budgets=self.budgets,
                    sink=self.sink,
                    tiers=list(tiers),
                    cooldowns=self.cooldowns,
                )
                self._routers[key] = router
        return router

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every record captured so far is committed (blocking)."""
        return self.capture.flush(timeout) if self.capture is not None else True


def read_plugin_config(agent: Any) -> dict[str, Any]:
    """The plugin's configuration as the host resolves it (config.json or the defaults)."""
    plugins = host_module("helpers.plugins")
    config = plugins.get_plugin_config(PLUGIN_NAME, agent=agent)
    return dict(config) if isinstance(config, dict) else {}


def _digest(config: dict[str, Any]) -> str:
    text = json.dumps(config, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _settings_for(config: dict[str, Any]) -> tuple[Settings, str | None]:
    try:
        return settings_from_mapping(apply_env_overrides(config)), None
    except ConfigError as error:
        logger.warning("agent-routing: invalid plugin configuration, using defaults: %s", error)
        return settings_from_mapping(apply_env_overrides({})), str(error)


class _Current:
    """The process's runtime (a holder object, so no module global is ever rebound)."""

    runtime: PluginRuntime | None = None


_current = _Current()


def get_runtime(agent: Any) -> PluginRuntime:
    """The runtime for the configuration in force now (see the module docstring)."""
    config = read_plugin_config(agent)
    digest = _digest(config)
    runtime = _current.runtime
    if runtime is not None and runtime.digest == digest:
        return runtime
    with _lock:
        previous = _current.runtime
        if previous is not None and previous.digest == digest:
            return previous
        settings, problem = _settings_for(config)
        from agent_routing.capture import enable_capture
        from agent_routing.router import CooldownRegistry

        capture = previous.capture if previous is not None else None
        if capture is None or not capture.enabled:
            capture = enable_capture(settings=settings)
        _current.runtime = PluginRuntime(
            settings=settings,
            digest=digest,
            capture=capture,
            budgets=LoopLocalBudgets(settings),
            cooldowns=previous.cooldowns if previous is not None else CooldownRegistry(),
            config_error=problem,
        )
        return _current.runtime


def reset_runtime(timeout: float = 5.0) -> None:
    """Stop capture and forget the runtime (tests; or to re-point the ledger in a process)."""
    with _lock:
        runtime, _current.runtime = _current.runtime, None
    if runtime is not None and runtime.capture is not None:
        runtime.capture.close(timeout)
