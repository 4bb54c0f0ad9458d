"""Extension discovery and dispatch (§2): merge by stem, sort by stem, fresh instance per call.

Modules are imported by file path under their bare stem and are NOT put in sys.modules, so
a cache refill (`clear_cache()`, what the plugin watchdog does) re-executes them.
"""

from __future__ import annotations

import functools
import importlib.util
import inspect
from pathlib import Path
from typing import Any

from helpers.subagents import get_paths

_folder_cache: dict[str, list[tuple[str, type]]] = {}
_merged_cache: dict[tuple[str, str, str], list[type]] = {}


class Extension:
    def __init__(self, agent: Any | None, **kwargs: Any) -> None:
        self.agent = agent
        self.kwargs = kwargs

    def execute(self, **kwargs: Any) -> Any:
        raise NotImplementedError


def clear_cache() -> None:
    """Drop every cached class list (the plugin watchdog does this when files change)."""
    _folder_cache.clear()
    _merged_cache.clear()


def load_module_classes(path: Path, base: type) -> list[type]:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    members = sorted(inspect.getmembers(module, inspect.isclass), key=lambda m: m[0], reverse=True)
    return [cls for _, cls in members if issubclass(cls, base) and cls is not base]


def _folder_classes(folder: str) -> list[tuple[str, type]]:
    if folder not in _folder_cache:
        found: list[tuple[str, type]] = []
        for path in sorted(Path(folder).glob("*.py")):
            classes = load_module_classes(path, Extension)
            if classes:
                found.append((path.stem, classes[0]))  # reverse-alphabetical first subclass
        _folder_cache[folder] = found
    return _folder_cache[folder]


def resolve(extension_point: str, agent: Any = None) -> list[type]:
    """Merged classes for a point, cached per (point, profile, project) like the host."""
    profile = agent.config.profile if agent is not None else ""
    project = (agent.context.get_data("project") or "") if agent is not None else ""
    key = (extension_point, profile, project)
    if key not in _merged_cache:
        _merged_cache[key] = _resolve(extension_point, agent)
    return _merged_cache[key]


def _resolve(extension_point: str, agent: Any = None) -> list[type]:
    winners: dict[str, type] = {}
    for folder in get_paths(agent, "extensions", "python", extension_point):
        for stem, cls in _folder_classes(folder):
            winners.setdefault(stem, cls)  # first root wins for a stem
    return [winners[stem] for stem in sorted(winners)]


async def call_extensions_async(extension_point: str, agent: Any = None, **kwargs: Any) -> None:
    for cls in resolve(extension_point, agent):
        result = cls(agent=agent).execute(**kwargs)
        if inspect.isawaitable(result):
            await result


def call_extensions_sync(extension_point: str, agent: Any = None, **kwargs: Any) -> None:
    for cls in resolve(extension_point, agent):
        result = cls(agent=agent).execute(**kwargs)
        if inspect.isawaitable(result):
            if inspect.iscoroutine(result):
                result.close()
            raise ValueError(f"Extension {cls.__name__} returned awaitable in sync mode")


_SENTINEL = object()


def _point_base(func: Any) -> str:
    parts = func.__module__.split(".") + [
        p for p in func.__qualname__.split(".") if p != "<locals>"
    ]
    return "_functions/" + "/".join(parts)


def _find_agent(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    from agent import Agent

    for candidate in [kwargs.get("agent"), *args]:
        if isinstance(candidate, Agent) and candidate.__dict__:
            return candidate
    return None


def extensible(func: Any) -> Any:
    """Fire `_functions/<module>/<qualname>/start|end` around `func` (§2.8)."""
    base = _point_base(func)

    def _result(data: dict[str, Any]) -> Any:
        if data["exception"] is not None:
            raise data["exception"]
        return None if data["result"] is _SENTINEL else data["result"]

    if inspect.iscoroutinefunction(func):

        @functools.wraps(func)
        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            data = {"args": args, "kwargs": kwargs, "result": _SENTINEL, "exception": None}
            agent = _find_agent(args, kwargs)
            await call_extensions_async(f"{base}/start", agent, data=data)
            if data["result"] is _SENTINEL and data["exception"] is None:
                try:
                    data["result"] = await func(*data["args"], **data["kwargs"])
                except Exception as error:
                    data["exception"] = error
            await call_extensions_async(f"{base}/end", agent, data=data)
            return _result(data)

        return async_wrapper

    @functools.wraps(func)
    def sync_wrapper(*args: Any, **kwargs: Any) -> Any:
        data = {"args": args, "kwargs": kwargs, "result": _SENTINEL, "exception": None}
        agent = _find_agent(args, kwargs)
        call_extensions_sync(f"{base}/start", agent, data=data)
        if data["result"] is _SENTINEL and data["exception"] is None:
            try:
                data["result"] = func(*data["args"], **data["kwargs"])
            except Exception as error:
                data["exception"] = error
        call_extensions_sync(f"{base}/end", agent, data=data)
        return _result(data)

    return sync_wrapper
