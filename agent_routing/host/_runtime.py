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

import hashlib
import json
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from agent_routing.budgets.guard import PerLoopBudgets
from agent_routing.config import Settings, TierConfig, apply_env_overrides, settings_from_mapping
from agent_routing.errors import ConfigError
from agent_routing.host.failures import CONFIGURATION_BLOCK
from agent_routing.host.layout import PLUGIN_NAME, host_module
from agent_routing.protocols import CallSink

if TYPE_CHECKING:
    from agent_routing.capture import CaptureHandle
    from agent_routing.router import CooldownRegistry, Router

logger = logging.getLogger("agent_routing.host")

_lock = threading.Lock()


class LoopLocalBudgets(PerLoopBudgets):
    """A BudgetGuard that keeps one ledger connection and `Budgets` per event loop; a
    ledger that cannot be opened refuses calls under a block budget (see
    :mod:`agent_routing.budgets.guard`)."""

    def __init__(
        self,
        settings: Settings,
        *,
        refusal: str | None = None,
        sink: CallSink | None = None,
    ) -> None:
        # The capture's ledger writer: a check first waits for the records it holds.
        super().__init__(
            settings,
            refusal=refusal,
            refusal_key=CONFIGURATION_BLOCK,
            pending_writes=getattr(sink, "aflush", None),
        )


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


# Sections whose loss would let money be spent that the user meant to stop.
_MONEY_SECTIONS = ("budgets", "quotas")


@dataclass(frozen=True)
class _Resolved:
    """Settings for a plugin configuration, and what was wrong with it."""

    settings: Settings
    problem: str | None = None  # the validation error, naming every bad field
    refusal: str | None = None  # set: budgets cannot be trusted, every call is refused


def _validated(config: dict[str, Any]) -> Settings:
    return settings_from_mapping(apply_env_overrides(config))


def _salvaged(config: dict[str, Any]) -> tuple[Settings, list[str]]:
    """Defaults for the sections that do not validate, the user's for those that do."""
    kept: dict[str, Any] = {}
    for key, value in config.items():
        try:
            _validated({key: value})
        except ConfigError:
            continue
        kept[key] = value
    try:
        settings = _validated(kept)
    except ConfigError:  # sections valid alone but not together, or bad env overrides
        kept = {key: value for key, value in kept.items() if key in _MONEY_SECTIONS}
        try:
            settings = _validated(kept)
        except ConfigError:
            kept, settings = {}, Settings()
    return settings, [key for key in config if key not in kept]


def _resolve(config: dict[str, Any], in_force: _Resolved | None) -> _Resolved:
    """Settings for `config`; an invalid one changes nothing it does not have to.

    A valid configuration is used as is. An invalid edit keeps the settings in force (the
    last valid ones). With none in force (the process starts on a bad file), each section
    that validates is kept and the others take their defaults, except budgets and quotas:
    if those are invalid, nobody knows the limits the user meant, so every call is refused
    with the reason until the file is fixed (fail closed for money).
    """
    try:
        return _Resolved(_validated(config))
    except ConfigError as error:
        problem = str(error)
    if in_force is not None:
        logger.warning(
            "agent-routing: invalid plugin configuration, keeping the one in force: %s", problem
        )
        return _Resolved(in_force.settings, problem, in_force.refusal)
    settings, dropped = _salvaged(config)
    refusal = None
    if any(section in dropped for section in _MONEY_SECTIONS):
        refusal = (
            "the agent-routing configuration's budgets or quotas are invalid, so no LLM call "
            f"is made until it is fixed (usr/plugins/agent_routing/config.json): {problem}"
        )
        logger.error("agent-routing: %s", refusal)
    else:
        logger.warning(
            "agent-routing: invalid plugin configuration, defaults used for %s: %s",
            ", ".join(dropped) or "everything",
            problem,
        )
    return _Resolved(settings, problem, refusal)


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
        in_force = None
        if previous is not None:
            in_force = _Resolved(previous.settings, previous.config_error, previous.budgets.refusal)
        resolved = _resolve(config, in_force)
        settings = resolved.settings
        from agent_routing.capture import enable_capture
        from agent_routing.router import CooldownRegistry

        capture = previous.capture if previous is not None else None
        if capture is None or not capture.enabled:
            capture = enable_capture(settings=settings)
        _current.runtime = PluginRuntime(
            settings=settings,
            digest=digest,
            capture=capture,
            budgets=LoopLocalBudgets(
                settings, refusal=resolved.refusal, sink=capture.sink if capture else None
            ),
            cooldowns=previous.cooldowns if previous is not None else CooldownRegistry(),
            config_error=resolved.problem,
        )
        from agent_routing.host import _notify as notify

        notify.install()  # core events -> host notifications (idempotent)
        return _current.runtime


def reset_runtime(timeout: float = 5.0) -> None:
    """Stop capture and forget the runtime (tests; or to re-point the ledger in a process)."""
    with _lock:
        runtime, _current.runtime = _current.runtime, None
    if runtime is not None:
        runtime.budgets.close_connections()  # each loop's ledger connection (thread, file)
    if runtime is not None and runtime.capture is not None:
        runtime.capture.close(timeout)
