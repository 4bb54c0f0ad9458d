"""Plugin discovery, toggles and plugin configuration (§10)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from helpers.files import BASE_DIR


def plugin_dirs() -> list[Path]:
    """Enabled plugin dirs ordered by name; `usr/plugins/<name>` shadows `plugins/<name>`."""
    found: dict[str, Path] = {}
    for parent in (BASE_DIR / "plugins", BASE_DIR / "usr" / "plugins"):
        if not parent.is_dir():
            continue
        for child in parent.iterdir():
            if child.is_dir() and (child / "plugin.yaml").is_file():
                found[child.name] = child  # usr/ is read last, so it wins
    return [found[name] for name in sorted(found) if is_enabled(found[name])]


def find_plugin_dir(name: str) -> Path | None:
    for parent in (BASE_DIR / "usr" / "plugins", BASE_DIR / "plugins"):
        if (parent / name).is_dir():
            return parent / name
    return None


def is_enabled(plugin_dir: Path) -> bool:
    return not (plugin_dir / ".toggle-0").exists()


def get_plugin_config(name: str, agent: Any = None) -> dict[str, Any] | None:
    """`usr/plugins/<name>/config.json` if present (no merge), else the plugin's defaults."""
    saved = BASE_DIR / "usr" / "plugins" / name / "config.json"
    if saved.is_file():
        return json.loads(saved.read_text(encoding="utf-8"))
    folder = find_plugin_dir(name)
    if folder is None or not (folder / "default_config.yaml").is_file():
        return None
    return yaml.safe_load((folder / "default_config.yaml").read_text(encoding="utf-8")) or {}


def save_plugin_config(name: str, config: dict[str, Any]) -> None:
    """What the settings UI does: write the whole config to `usr/plugins/<name>/config.json`."""
    target = BASE_DIR / "usr" / "plugins" / name / "config.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(config, indent=2), encoding="utf-8")
