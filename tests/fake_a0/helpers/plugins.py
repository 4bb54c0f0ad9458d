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


# --- plugin hooks and the plugin list (added for the settings screen and hooks.py) ---------


def call_plugin_hook(name: str, hook_name: str, default: Any = None, **kwargs: Any) -> Any:
    """`<plugin dir>/hooks.py: <hook_name>(...)` as the host calls it: the module imported by
    path, keyword arguments the hook does not accept dropped, `default` when absent."""
    import inspect

    folder = find_plugin_dir(name)
    script = folder / "hooks.py" if folder is not None else None
    if script is None or not script.is_file():
        return default
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"_hooks_{name}", script)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    hook = getattr(module, hook_name, None)
    if hook is None:
        return default
    params = inspect.signature(hook).parameters
    accepts_any = any(p.kind == p.VAR_KEYWORD for p in params.values())
    return hook(**{k: v for k, v in kwargs.items() if accepts_any or k in params})


def get_enhanced_plugins_list() -> list[dict[str, Any]]:
    """What the plugin list reports per plugin (the fields the UI uses to show buttons)."""
    items = []
    for parent, custom in ((BASE_DIR / "usr" / "plugins", True), (BASE_DIR / "plugins", False)):
        if not parent.is_dir():
            continue
        for folder in sorted(parent.iterdir()):
            meta_file = folder / "plugin.yaml"
            if not folder.is_dir() or folder.name.startswith(".") or not meta_file.is_file():
                continue
            meta = yaml.safe_load(meta_file.read_text(encoding="utf-8")) or {}
            items.append(
                {
                    "name": folder.name,
                    "display_name": meta.get("title") or folder.name,
                    "settings_sections": list(meta.get("settings_sections") or []),
                    "is_custom": custom,
                    "has_main_screen": (folder / "webui" / "main.html").is_file(),
                    "has_config_screen": (folder / "webui" / "config.html").is_file(),
                    "has_readme": (folder / "README.md").is_file(),
                    "has_license": (folder / "LICENSE").is_file(),
                }
            )
    return items
