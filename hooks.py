"""Agent Zero plugin hooks: install the `agent-routing` package into Agent Zero's own Python.

Agent Zero installs a plugin from the Plugin Hub (or a Git URL) by cloning its repository
into `usr/plugins/<name>/` and calling `install()` from this file, in the Python that runs
the framework (`sys.executable`, `/opt/venv-a0` in Docker). The plugin's files only call
into the `agent_routing` package, so `install()` pip-installs that package from this very
folder (the repository root holds `pyproject.toml`), keeping the host's pinned versions: the
host's `requirements*.txt` and the litellm/openai versions already installed are passed as
pip constraints, so installing the plugin never moves the host's litellm or openai.

`ensure_installed()` does the same once for a plugin copied by hand (nothing called
`install()`); the start-up extension `extensions/python/startup_migration/` calls it.
`uninstall()` removes the package but leaves the ledger (the cost history lives outside the
plugin folder, see `docs/ledger.md`). This file imports nothing from `agent_routing`: it runs
before the package exists.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.metadata
import importlib.util
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

PLUGIN_DIR = Path(__file__).resolve().parent
DISTRIBUTION = "agent-routing"
PINNED = ("litellm", "openai")  # never moved by installing the plugin
HOST_REQUIREMENTS = ("requirements.txt", "requirements2.txt")
ATTEMPT_MARKER = ".agent_routing_install_attempted"  # git-ignored; "once" for hand copies
TIMEOUT_S = 900

logger = logging.getLogger("agent_routing.hooks")
_REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*([<>=!~].*)?$")


class InstallError(RuntimeError):
    """The package could not be installed; the message says why and what to run by hand."""


def _say(message: str) -> None:
    """One clear line in the host's console (its log is stdout) and in Python logging."""
    print(f"[agent-routing] {message}", flush=True)
    logger.info("%s", message)


def host_root(plugin_dir: Path = PLUGIN_DIR) -> Path | None:
    """The Agent Zero root for a plugin at `<root>/usr/plugins/<name>`, else None."""
    parents = plugin_dir.parents
    if len(parents) >= 3 and parents[0].name == "plugins" and parents[1].name == "usr":
        return parents[2]
    return None


def constraint_lines(plugin_dir: Path = PLUGIN_DIR) -> list[str]:
    """pip constraints: the host's pinned requirements plus the installed litellm/openai.

    Only plain `name<op>version` lines are kept (extras dropped, URLs, options and includes
    skipped): that is all a constraints file may hold.
    """
    lines: list[str] = []
    root = host_root(plugin_dir)
    for name in HOST_REQUIREMENTS if root is not None else ():
        path = root / name
        if not path.is_file():
            continue
        for raw in path.read_text(encoding="utf-8", errors="replace").splitlines():
            text = raw.split("#", 1)[0].strip()
            match = _REQUIREMENT.match(text) if text and not text.startswith("-") else None
            if match and match.group(3) and ";" not in text and "@" not in text:
                lines.append(f"{match.group(1)}{match.group(3).strip()}")
    for package in PINNED:
        try:
            lines.append(f"{package}=={importlib.metadata.version(package)}")
        except importlib.metadata.PackageNotFoundError:
            continue
    return lines


def install_command(plugin_dir: Path, constraints: Path, python: str) -> list[str]:
    """`uv pip install --python <python> ...` when uv is there (the Docker image's own
    tool; its venv may have no pip), else `<python> -m pip install ...`."""
    uv = shutil.which("uv")
    if uv and not _has_pip(python):
        return [uv, "pip", "install", "--python", python, "-c", str(constraints), str(plugin_dir)]
    return [
        python,
        "-m",
        "pip",
        "install",
        "--disable-pip-version-check",
        "-c",
        str(constraints),
        str(plugin_dir),
    ]


def _has_pip(python: str) -> bool:
    if python == sys.executable:
        return importlib.util.find_spec("pip") is not None
    probe = subprocess.run([python, "-c", "import pip"], capture_output=True, check=False)  # noqa: S603
    return probe.returncode == 0


def install(plugin_dir: Path | None = None, python: str | None = None) -> str:
    """Install (or upgrade) the package from this folder into Agent Zero's Python.

    Called by Agent Zero after cloning the plugin (and after an update). Raises
    :class:`InstallError` with pip's last lines when pip fails; the host shows it.
    """
    folder = Path(plugin_dir or PLUGIN_DIR)
    target = python or sys.executable
    if not (folder / "pyproject.toml").is_file():
        # a copy made by `agent-routing install` (pip users): the package is already there
        _say(f"no pyproject.toml in {folder}: nothing to install (package from pip)")
        return "skipped"
    with tempfile.TemporaryDirectory(prefix="agent-routing-") as scratch:
        constraints = Path(scratch) / "constraints.txt"
        constraints.write_text("\n".join(constraint_lines(folder)) + "\n", encoding="utf-8")
        command = install_command(folder, constraints, target)
        _say(f"installing the agent-routing package from {folder} into {target}")
        done = subprocess.run(  # noqa: S603 - fixed command, no shell
            command, capture_output=True, text=True, check=False, timeout=TIMEOUT_S
        )
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
        raise InstallError(
            f"installing agent-routing into {target} failed (exit {done.returncode}); "
            f"run by hand: {' '.join(command[:-3])} {folder}\n{tail}"
        )
    importlib.invalidate_caches()
    _say("agent-routing package installed; restart Agent Zero if it was already running")
    return "installed"


def save_plugin_config(settings: dict, **kwargs: object) -> dict:
    """Host hook before it writes `config.json`: refuse an invalid configuration.

    The settings screen validates before saving and shows each problem as a toast; this is
    the backstop for any other client of the host's plugin-config API. Raising keeps the
    file as it was (the host reports the failed save).
    """
    try:
        from agent_routing.host.ui_api import validate_settings
    except ImportError:  # package not installed: the runtime reports the config when loaded
        return settings
    problems = validate_settings(settings)
    if problems:
        details = "; ".join(f"{p['field']}: {p['message']}" for p in problems)
        raise ValueError(f"agent_routing settings not saved: {details}")
    return settings


def pre_update() -> None:
    """Before the host pulls a new version: nothing to do (install() runs after the pull)."""


def uninstall(python: str | None = None) -> str:
    """Remove the package from Agent Zero's Python. The ledger (cost history) is kept.

    A plugin folder without `pyproject.toml` was written by `agent-routing install` from a
    pip-installed package: that package is the user's to remove, so it stays.
    """
    if not (PLUGIN_DIR / "pyproject.toml").is_file():
        _say("plugin removed; the pip-installed package and the ledger are kept")
        return "kept"
    target = python or sys.executable
    command = [target, "-m", "pip", "uninstall", "-y", DISTRIBUTION]
    uv = shutil.which("uv")
    if uv and not _has_pip(target):
        command = [uv, "pip", "uninstall", "--python", target, DISTRIBUTION]
    done = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    _say(
        "agent-routing package removed; the ledger (cost history) is kept "
        "(AGENT_ROUTING_DB / AGENT_ROUTING_HOME, default ~/.agent-routing/ledger.db)"
        if done.returncode == 0
        else f"could not remove the agent-routing package: {done.stderr.strip()[-300:]}"
    )
    return "removed" if done.returncode == 0 else "failed"


def package_version() -> str | None:
    """The installed package's version, or None when it is not importable here."""
    if importlib.util.find_spec("agent_routing") is None:
        return None
    try:
        return importlib.metadata.version(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        return None


def folder_version(plugin_dir: Path = PLUGIN_DIR) -> str | None:
    """The version this folder's pyproject.toml declares (None without one)."""
    pyproject = plugin_dir / "pyproject.toml"
    if not pyproject.is_file():
        return None
    found = re.search(r'(?m)^version\s*=\s*"([^"]+)"', pyproject.read_text(encoding="utf-8"))
    return found.group(1) if found else None


def ensure_installed(plugin_dir: Path | None = None) -> str:
    """At start-up: install the package once when it is missing (a plugin copied by hand).

    Returns "present", "installed", "skipped" (tried before for this version; see the log
    line for the command to run) or "failed". Never raises: start-up must go on.
    """
    folder = Path(plugin_dir or PLUGIN_DIR)
    wanted = folder_version(folder)
    have = package_version()
    if have is not None and (wanted is None or have == wanted):
        return "present"
    marker = folder / ATTEMPT_MARKER
    if marker.is_file() and marker.read_text(encoding="utf-8").strip() == str(wanted):
        _say(
            f"package {'missing' if have is None else f'at {have}'}; an install of {wanted} "
            f"was tried before and failed: run `{sys.executable} -m pip install {folder}`"
        )
        return "skipped"
    _say(
        "package not installed in Agent Zero's Python; installing it once now"
        if have is None
        else f"package {have} is older than the plugin's {wanted}; upgrading once now"
    )
    with contextlib.suppress(OSError):  # a read-only folder: the install is still tried
        marker.write_text(str(wanted), encoding="utf-8")
    try:
        install(folder)
    except Exception as error:
        _say(f"automatic install failed, the plugin stays inert: {error}")
        return "failed"
    with contextlib.suppress(OSError):
        marker.unlink()
    return "installed"


if __name__ == "__main__":  # `python hooks.py` from the plugin folder does the same by hand
    os.chdir(PLUGIN_DIR)
    sys.exit(0 if install() in {"installed", "skipped"} else 1)
