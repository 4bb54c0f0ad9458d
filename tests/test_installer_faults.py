"""The installer never touches a file outside the plugin folder, whatever its manifest says,
and reports file-system errors as a clear message (CLI exit 2)."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
from fakehost import copy_fake_root

from agent_routing.errors import ConfigError
from agent_routing.installer import MANIFEST_NAME, install, uninstall


@pytest.fixture
def a0(tmp_path: Path) -> Path:
    """A fresh copy of the fake Agent Zero root."""
    return copy_fake_root(tmp_path / "a0")


def _plant(a0: Path, tmp_path: Path) -> tuple[Path, Path, Path]:
    """Install, then add manifest entries for two files outside the plugin folder (one by
    `../`, one absolute, one through a symbolic link) whose hashes match, as a tampered or
    corrupted manifest would."""
    install(a0)
    plugin = a0 / "usr" / "plugins" / "agent_routing"
    victim_up = a0 / "usr" / "precious.txt"
    victim_abs = tmp_path / "elsewhere" / "absolute.txt"
    victim_link = tmp_path / "elsewhere" / "linked.txt"
    victim_abs.parent.mkdir()
    for victim in (victim_up, victim_abs, victim_link):
        victim.write_text(f"keep me: {victim.name}\n")
    (plugin / "escape").symlink_to(victim_link.parent, target_is_directory=True)
    data = json.loads((plugin / MANIFEST_NAME).read_text())
    for key, victim in (
        ("../../precious.txt", victim_up),
        (str(victim_abs), victim_abs),
        ("escape/linked.txt", victim_link),
    ):
        data["files"][key] = hashlib.sha256(victim.read_bytes()).hexdigest()
    (plugin / MANIFEST_NAME).write_text(json.dumps(data))
    return victim_up, victim_abs, victim_link


def test_uninstall_never_deletes_outside_the_plugin_folder(a0: Path, tmp_path: Path) -> None:
    """`../`, absolute and symlinked manifest entries are ignored: the files stay (before:
    deleted, and uninstall looped forever on the absolute path)."""
    victims = _plant(a0, tmp_path)
    report = uninstall(a0)
    assert all(victim.is_file() for victim in victims)
    assert not any(".." in a.path or a.path.startswith("/") for a in report.actions)
    assert (a0 / "usr" / "plugins" / "agent_routing" / "escape").is_symlink()


@pytest.mark.slow
def test_uninstall_with_an_absolute_entry_finishes_in_a_real_process(
    a0: Path, tmp_path: Path
) -> None:
    """The CLI uninstall ends (it used to loop forever) and exits 0."""
    victims = _plant(a0, tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "agent_routing.cli", "install", str(a0), "--uninstall"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert all(victim.is_file() for victim in victims)


def test_reinstall_never_deletes_outside_the_plugin_folder(a0: Path, tmp_path: Path) -> None:
    """An install over a tampered manifest treats the outside entries as unknown: kept."""
    victims = _plant(a0, tmp_path)
    install(a0)
    assert all(victim.is_file() for victim in victims)
    manifest = json.loads((a0 / "usr/plugins/agent_routing" / MANIFEST_NAME).read_text())
    assert not [key for key in manifest["files"] if key.startswith("/") or ".." in key]


def test_a_file_system_error_is_a_clear_error(a0: Path) -> None:
    """A file where the plugin folder belongs: ConfigError naming the path, not a trace."""
    (a0 / "usr" / "plugins" / "agent_routing").write_text("not a folder")
    with pytest.raises(ConfigError, match="agent_zero_root: cannot change"):
        install(a0)


@pytest.mark.slow
def test_the_cli_exits_2_on_a_file_system_error(a0: Path) -> None:
    """`agent-routing install` in a real process: exit 2, one line naming the path."""
    (a0 / "usr" / "plugins" / "agent_routing").write_text("not a folder")
    done = subprocess.run(
        [sys.executable, "-m", "agent_routing.cli", "install", str(a0)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "agent_routing" in done.stderr
