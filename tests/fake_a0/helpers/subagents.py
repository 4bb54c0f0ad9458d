"""Search-path resolver for extensions, tools and prompts (§2.3, §6.2, §9)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from helpers.files import BASE_DIR
from helpers.plugins import plugin_dirs


def get_paths(agent: Any, *subpath: str) -> list[str]:
    """Existing folders (or files) for `subpath`, highest priority first."""
    roots: list[Path] = []
    profile = agent.config.profile if agent is not None else ""
    project = agent.context.get_data("project") if agent is not None else None
    if agent is not None:
        if project:
            proj = BASE_DIR / "usr" / "projects" / project / ".a0proj"
            if profile:
                roots.append(proj / "agents" / profile)
            roots.append(proj)
        if profile:
            roots.append(BASE_DIR / "usr" / "agents" / profile)
            roots.extend(plugin / "agents" / profile for plugin in plugin_dirs())
            roots.append(BASE_DIR / "agents" / profile)
    roots.append(BASE_DIR / "usr")
    roots.extend(plugin_dirs())
    roots.append(BASE_DIR)
    return [str(root.joinpath(*subpath)) for root in roots if root.joinpath(*subpath).exists()]
