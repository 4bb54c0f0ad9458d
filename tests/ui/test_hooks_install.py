"""Installed the Agent Zero way: the repository cloned into usr/plugins/agent_routing/ of a
fresh (fake) Agent Zero v1.7 tree, `hooks.py install()` called as the host calls it, in a
Python that has never seen agent-routing; the next turn is routed and recorded, and the
host lists the plugin with a config screen. Also: tests/, bench/, docs/ in the plugin
folder load nothing."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from fakehost import copy_fake_root

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent


def clone_into(plugin_dir: Path) -> None:
    """What `git clone` of this repository gives: every tracked file, as in the work tree."""
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = REPO / name
        if source.is_file():
            target = plugin_dir / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)


def host_python(folder: Path) -> Path:
    """A fresh venv standing for Agent Zero's Python: the host's own libraries (litellm,
    pydantic, ... linked from this test environment and added with a .pth line) but no
    trace of agent-routing (its editable install and its files are left out)."""
    subprocess.run([sys.executable, "-m", "venv", str(folder)], check=True, capture_output=True)
    python = folder / "bin" / "python"
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    libraries = folder / "host-libraries"
    libraries.mkdir()
    for entry in Path(sysconfig.get_paths()["purelib"]).iterdir():
        if "agent_routing" not in entry.name and not entry.name.endswith(".pth"):
            (libraries / entry.name).symlink_to(entry)
    (Path(site) / "host_libraries.pth").write_text(f"{libraries}\n")
    return python


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["hook", "startup"])
def test_cloned_plugin_installs_with_hooks_and_the_next_turn_is_routed(
    tmp_path: Path, isolated_home: Path, mode: str
) -> None:
    """hook: install(), called as the host's installer calls it, pip-installs the package
    from the clone into the host's Python (offline: no index, no build isolation), keeping
    the host's pinned litellm; then a turn routes its main call and the ledger holds the
    turn's calls and decisions. startup: the same folder copied by hand gets the package
    from the start-up check, once, with its log line."""
    root = copy_fake_root(tmp_path / "a0")
    (root / "requirements2.txt").write_text("litellm==1.79.3\n")  # the host's pins
    plugin_dir = root / "usr" / "plugins" / "agent_routing"
    clone_into(plugin_dir)
    python = host_python(tmp_path / "venv-a0")
    probe = subprocess.run(
        [python, "-c", "import agent_routing"], cwd=tmp_path, capture_output=True, check=False
    )
    assert probe.returncode != 0  # the host's Python does not have the package yet
    env = {
        **os.environ,
        "PIP_NO_INDEX": "1",
        "PIP_NO_BUILD_ISOLATION": "0",  # pip's spelling for "do not isolate the build"
        "AGENT_ROUTING_HOME": str(isolated_home),
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    }
    done = subprocess.run(
        [python, str(HERE / "drive_clone_install.py"), str(root), mode],
        cwd=tmp_path, capture_output=True, text=True, env=env, timeout=600, check=False,
    )  # fmt: skip
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert lines, done.stdout[-3000:] + done.stderr[-3000:]
    seen = json.loads(lines[-1].removeprefix("RESULT "))
    assert seen["before"] is False
    assert seen["installed"] == ("installed" if mode == "hook" else None)
    assert "[agent-routing] installing the agent-routing package from" in done.stdout
    once = "[agent-routing] package not installed in Agent Zero's Python; installing it once now"
    assert done.stdout.count(once) == (1 if mode == "startup" else 0)
    assert seen["package_file"].startswith(str(tmp_path / "venv-a0"))  # from the clone
    assert seen["reply"] == "4"
    chat = [c for c in seen["chat_calls"] if c[0] == "chat"]
    assert chat
    assert all(has_decision for _, _, has_decision in chat)
    assert [kind for kind, _ in seen["decisions"]].count("chat") == len(chat)
    assert seen["has_config_screen"] is True
    assert seen["settings_sections"] == ["agent"]
    assert seen["plugins"] == ["_context_window", "_memory", "_model_config", "agent_routing"]
    for folder in seen["extension_folders"]:  # nothing from tests/, bench/, docs/
        relative = Path(folder).relative_to(root)
        assert relative.parts[:3] != ("usr", "plugins", "agent_routing") or relative.parts[3] == (
            "extensions"
        ), folder
    litellm = subprocess.run(
        [python, "-c", "import importlib.metadata as m; print(m.version('litellm'))"],
        cwd=tmp_path, capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    assert litellm == "1.79.3"


def test_the_start_up_check_installs_a_hand_copied_plugin_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A plugin copied by hand (no install()): the start-up check tries the install once,
    says so in one log line, and after a failure does not retry at every start."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("hooks_under_test", REPO / "hooks.py")
    hooks = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hooks)
    folder = tmp_path / "usr" / "plugins" / "agent_routing"
    folder.mkdir(parents=True)
    (folder / "pyproject.toml").write_text('[project]\nname = "agent-routing"\nversion = "9.9.9"\n')
    attempts: list[Path] = []

    def failing_install(plugin_dir=None, python=None):
        attempts.append(Path(plugin_dir))
        raise hooks.InstallError("no network")

    monkeypatch.setattr(hooks, "install", failing_install)
    assert hooks.ensure_installed(folder) == "failed"
    assert hooks.ensure_installed(folder) == "skipped"
    assert attempts == [folder]
    (folder / hooks.ATTEMPT_MARKER).write_text("9.9.8")  # a newer version is tried again
    assert hooks.ensure_installed(folder) == "failed"
    assert len(attempts) == 2


def test_constraints_keep_the_hosts_pins(tmp_path: Path) -> None:
    """The host's requirements become pip constraints (extras, URLs and options dropped),
    plus the installed litellm and openai versions."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("hooks_under_test", REPO / "hooks.py")
    hooks = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hooks)
    folder = tmp_path / "usr" / "plugins" / "agent_routing"
    folder.mkdir(parents=True)
    (tmp_path / "requirements.txt").write_text(
        "flask[async]==3.0.3\n# comment\n-r other.txt\nkokoro>=0.9.2\nbare\n"
        "pkg @ https://example.invalid/pkg.whl\n"
    )
    (tmp_path / "requirements2.txt").write_text("litellm==1.79.3\nopenai==1.99.5\n")
    lines = hooks.constraint_lines(folder)
    assert lines[:4] == ["flask==3.0.3", "kokoro>=0.9.2", "litellm==1.79.3", "openai==1.99.5"]
    assert any(line.startswith("litellm==") for line in lines[4:])  # the installed one
    assert not any("@" in line or line.startswith("-") or line == "bare" for line in lines)


def _hooks_module():
    import importlib.util

    spec = importlib.util.spec_from_file_location("hooks_under_test", REPO / "hooks.py")
    hooks = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hooks)
    return hooks


def _recording_python(folder: Path, exit_code: int) -> tuple[Path, Path]:
    """A stand-in interpreter that logs its arguments and exits with `exit_code`."""
    log = folder / "calls.log"
    script = folder / "python"
    script.write_text(f'#!/bin/sh\necho "$@" >> {log}\necho "pip said no" >&2\nexit {exit_code}\n')
    script.chmod(0o755)
    return script, log


def test_uninstall_removes_the_package_and_keeps_the_ledger(
    tmp_path: Path, isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """uninstall() asks the host's pip to remove agent-routing; the ledger file stays. A
    folder written by `agent-routing install` (no pyproject.toml) keeps the pip package."""
    hooks = _hooks_module()
    monkeypatch.setattr(hooks.shutil, "which", lambda name: None)  # pip, not uv
    ledger = isolated_home / "ledger.db"
    ledger.write_bytes(b"SQLite format 3\0")
    python, log = _recording_python(tmp_path, 0)
    folder = tmp_path / "plugin"
    folder.mkdir()
    (folder / "pyproject.toml").write_text('[project]\nname = "agent-routing"\n')
    monkeypatch.setattr(hooks, "PLUGIN_DIR", folder)
    assert hooks.uninstall(python=str(python)) == "removed"
    assert "-m pip uninstall -y agent-routing" in log.read_text()
    assert ledger.read_bytes() == b"SQLite format 3\0"
    (folder / "pyproject.toml").unlink()
    log.unlink()
    assert hooks.uninstall(python=str(python)) == "kept"
    assert not log.exists()


def test_a_failed_install_says_why_and_how_to_run_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pip failing: InstallError carries pip's last lines and the command to run by hand."""
    hooks = _hooks_module()
    monkeypatch.setattr(hooks.shutil, "which", lambda name: None)  # pip, not uv
    python, _ = _recording_python(tmp_path, 1)
    folder = tmp_path / "plugin"
    folder.mkdir()
    (folder / "pyproject.toml").write_text('[project]\nname = "agent-routing"\n')
    with pytest.raises(hooks.InstallError) as raised:
        hooks.install(folder, python=str(python))
    message = str(raised.value)
    assert "failed (exit 1)" in message
    assert "pip said no" in message
    assert f"run by hand: {python} -m pip install" in message
