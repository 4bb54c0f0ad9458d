"""The one place that knows how Agent Zero versions differ (the "version seam").

Two source layouts exist (see the host spec §0/§11):

- G2, the root layout (v0.9.9.0 and later, every v1.x): `helpers/`, `tools/`, `api/`,
  `extensions/python/` at the repo root, plugins under `usr/plugins/<name>/`;
- G1, the `python/` layout (v0.9.8.x and older): the same packages under `python/`.

The installer asks :func:`detect_layout` about a directory on disk; the adapters ask
:func:`host_module` / :func:`handled_exception_type` inside the running host, so no other
module spells a host import path.
"""

from __future__ import annotations

import importlib
import importlib.util
from enum import StrEnum
from pathlib import Path
from types import ModuleType

from agent_routing.errors import ConfigError

PLUGIN_NAME = "agent_routing"


class Layout(StrEnum):
    """An Agent Zero source layout."""

    G2 = "g2"  # root layout: v0.9.9.0 .. v1.x
    G1 = "g1"  # python/ layout: v0.9.8.x and older


class NotAgentZeroError(ConfigError):
    """The directory given as an Agent Zero root is not one."""

    def __init__(self, path: Path) -> None:
        super().__init__(
            [
                (
                    "path",
                    f"{str(path)!r} is not an Agent Zero directory (expected agent.py with "
                    "helpers/extension.py, or python/helpers/extension.py for versions before "
                    "0.9.9; in Docker the root is /a0)",
                )
            ]
        )


class UnsupportedLayoutError(ConfigError):
    """An Agent Zero version this package cannot install into yet."""

    def __init__(self, path: Path, layout: Layout) -> None:
        self.layout = layout
        super().__init__(
            [
                (
                    "path",
                    f"{str(path)!r} is Agent Zero with the python/ layout (v0.9.8 or older), "
                    "which is not supported yet: upgrade Agent Zero to v1.x",
                )
            ]
        )


def detect_layout(root: Path) -> Layout:
    """Which layout the Agent Zero checkout at `root` uses; NotAgentZeroError if neither."""
    if not (root / "agent.py").is_file():
        raise NotAgentZeroError(root)
    if (root / "helpers" / "extension.py").is_file():
        return Layout.G2
    if (root / "python" / "helpers" / "extension.py").is_file():
        return Layout.G1
    raise NotAgentZeroError(root)


def plugin_dir(root: Path, layout: Layout) -> Path:
    """Where this package's plugin lives inside an Agent Zero root of `layout`."""
    if layout is not Layout.G2:
        raise UnsupportedLayoutError(root, layout)
    return root / "usr" / "plugins" / PLUGIN_NAME


def _runtime_layout() -> Layout | None:
    """The layout of the Agent Zero this process runs in, or None outside Agent Zero."""
    try:
        if importlib.util.find_spec("helpers.extension") is not None:
            return Layout.G2
        if importlib.util.find_spec("python.helpers.extension") is not None:
            return Layout.G1
    except (ImportError, ValueError):
        return None
    return None


def host_module(name: str) -> ModuleType:
    """Import a host module by its G2 name (`helpers.errors`, `models`, ...) in any layout."""
    if name.startswith("helpers.") and _runtime_layout() is Layout.G1:
        name = f"python.{name}"
    return importlib.import_module(name)


def handled_exception_type() -> type[Exception]:
    """The host's HandledException: raising it ends the monologue with no retry (§2.6)."""
    if _runtime_layout() is Layout.G1:
        found = getattr(importlib.import_module("agent"), "HandledException", None)
    else:
        found = getattr(host_module("helpers.errors"), "HandledException", None)
    if isinstance(found, type) and issubclass(found, Exception):
        return found
    raise ImportError("the host defines no HandledException")
