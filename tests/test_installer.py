"""The installer: layout detection, idempotent install, edited files kept, exact uninstall."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from fakehost import copy_fake_root

from agent_routing.cli import main
from agent_routing.config import Settings, settings_from_mapping
from agent_routing.errors import AgentRoutingError
from agent_routing.host.layout import (
    Layout,
    NotAgentZeroError,
    UnsupportedLayoutError,
    detect_layout,
)
from agent_routing.installer import (
    MANIFEST_NAME,
    Action,
    find_plugin_source,
    install,
    plugin_files,
    uninstall,
)

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def a0(tmp_path: Path) -> Path:
    """A fresh copy of the fake Agent Zero root."""
    return copy_fake_root(tmp_path / "a0")


@pytest.fixture
def source(tmp_path: Path) -> Path:
    """A private copy of the plugin source, so a test can play 'the next version'."""
    target = tmp_path / "plugin-src"
    for name in ("plugin.yaml", "default_config.yaml", "extensions", "tools", "prompts", "api"):
        path = REPO / name
        if path.is_dir():
            shutil.copytree(path, target / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            target.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, target / name)
    return target


def manifest(plugin: Path) -> dict[str, str]:
    return dict(json.loads((plugin / MANIFEST_NAME).read_text())["files"])


def test_detects_the_root_layout_and_refuses_other_directories(tmp_path: Path, a0: Path) -> None:
    """G2 is recognised; a non-Agent-Zero folder and the old python/ layout are refused."""
    assert detect_layout(a0) is Layout.G2
    with pytest.raises(NotAgentZeroError, match="not an Agent Zero directory"):
        detect_layout(tmp_path / "nothing")
    old = tmp_path / "old"
    (old / "python" / "helpers").mkdir(parents=True)
    (old / "agent.py").write_text("")
    (old / "python" / "helpers" / "extension.py").write_text("")
    assert detect_layout(old) is Layout.G1
    with pytest.raises(UnsupportedLayoutError, match="not supported yet"):
        install(old)
    assert not (old / "usr").exists()


def test_install_writes_every_plugin_file_and_a_manifest_of_hashes(a0: Path, source: Path) -> None:
    """All shipped files land in usr/plugins/agent_routing with their hash in the manifest."""
    report = install(a0, source=source)
    plugin = a0 / "usr" / "plugins" / "agent_routing"
    shipped = plugin_files(source)
    assert set(report.paths(Action.CREATE)) == set(shipped)
    assert set(manifest(plugin)) == set(shipped)
    for relative, file in shipped.items():
        assert (plugin / relative).read_bytes() == file.read_bytes()
    assert "plugin.yaml" in shipped
    assert any(path.startswith("extensions/python/") for path in shipped)
    assert not any(".gitkeep" in path or "__pycache__" in path for path in shipped)


def test_second_install_changes_nothing(a0: Path, source: Path) -> None:
    """Running install again reports every file unchanged and rewrites none."""
    install(a0, source=source)
    plugin = a0 / "usr" / "plugins" / "agent_routing"
    before = {p: p.stat().st_mtime_ns for p in plugin.rglob("*") if p.is_file()}
    report = install(a0, source=source)
    assert {a.action for a in report.actions} == {Action.UNCHANGED}
    after = {
        p: p.stat().st_mtime_ns
        for p in plugin.rglob("*")
        if p.is_file() and p.name != MANIFEST_NAME
    }
    assert all(before[p] == mtime for p, mtime in after.items())


def test_upgrade_updates_untouched_files_keeps_edited_ones_and_drops_stale(
    a0: Path, source: Path
) -> None:
    """A new version replaces unedited files, keeps (and reports) edited ones, removes old ones."""
    install(a0, source=source)
    plugin = a0 / "usr" / "plugins" / "agent_routing"
    (plugin / "default_config.yaml").write_text("tiers: []  # my edit\n")
    (source / "plugin.yaml").write_text((source / "plugin.yaml").read_text() + "# v2\n")
    (source / "default_config.yaml").write_text("# v2 defaults\n")
    stale = next(p for p in plugin_files(source) if p.startswith("prompts/"))
    (source / stale).unlink()
    (plugin / "config.json").write_text("{}")  # written by the settings UI, never ours

    report = install(a0, source=source)

    assert report.paths(Action.UPDATE) == ["plugin.yaml"]
    assert report.paths(Action.KEEP_EDITED) == ["default_config.yaml"]
    assert report.paths(Action.REMOVE) == [stale]
    assert (plugin / "default_config.yaml").read_text() == "tiers: []  # my edit\n"
    assert (plugin / "plugin.yaml").read_text().endswith("# v2\n")
    assert not (plugin / stale).exists()
    assert (plugin / "config.json").read_text() == "{}"
    assert "config.json" not in manifest(plugin)


def test_a_preexisting_file_we_never_wrote_is_not_overwritten(a0: Path, source: Path) -> None:
    """A file already at a plugin path before the first install is kept and not claimed."""
    plugin = a0 / "usr" / "plugins" / "agent_routing"
    plugin.mkdir(parents=True)
    (plugin / "plugin.yaml").write_text("name: agent_routing  # hand-made\n")
    report = install(a0, source=source)
    assert report.paths(Action.KEEP_USER) == ["plugin.yaml"]
    assert (plugin / "plugin.yaml").read_text() == "name: agent_routing  # hand-made\n"
    assert "plugin.yaml" not in manifest(plugin)


def test_uninstall_removes_exactly_what_was_installed(a0: Path, source: Path) -> None:
    """Installed, unedited files go; edited and user files stay; empty folders are removed."""
    install(a0, source=source)
    plugin = a0 / "usr" / "plugins" / "agent_routing"
    (plugin / "config.json").write_text("{}")
    (plugin / "default_config.yaml").write_text("# edited\n")
    cache = next(p.parent for p in plugin.rglob("*.py")) / "__pycache__"
    cache.mkdir()
    (cache / "x.cpython-311.pyc").write_bytes(b"")

    report = uninstall(a0)

    assert set(report.paths(Action.KEEP_EDITED)) == {"default_config.yaml"}
    assert set(report.paths(Action.KEEP_USER)) == {"config.json"}
    assert sorted(p.name for p in plugin.iterdir()) == ["config.json", "default_config.yaml"]
    assert uninstall(a0).actions == []  # a second uninstall finds nothing to do


def test_uninstall_of_a_clean_install_leaves_no_trace(a0: Path, source: Path) -> None:
    """Install then uninstall restores the Agent Zero tree exactly (the plugin folder is gone)."""
    before = sorted(str(p.relative_to(a0)) for p in a0.rglob("*"))
    install(a0, source=source)
    uninstall(a0)
    assert sorted(str(p.relative_to(a0)) for p in a0.rglob("*")) == before


def test_dry_run_writes_nothing(a0: Path, source: Path) -> None:
    """--dry-run reports the plan but creates no file, for install and uninstall alike."""
    report = install(a0, dry_run=True, source=source)
    assert report.paths(Action.CREATE)
    assert not (a0 / "usr" / "plugins" / "agent_routing").exists()
    install(a0, source=source)
    plan = uninstall(a0, dry_run=True)
    assert plan.paths(Action.REMOVE)
    assert (a0 / "usr" / "plugins" / "agent_routing" / MANIFEST_NAME).is_file()


def test_plugin_source_prefers_the_wheel_copy_then_the_repo(tmp_path: Path) -> None:
    """`_plugin/` inside the package wins (wheel); else the repo top level (editable)."""
    package = tmp_path / "site" / "agent_routing"
    (package / "_plugin" / "extensions").mkdir(parents=True)
    (package / "_plugin" / "plugin.yaml").write_text("name: agent_routing\n")
    assert find_plugin_source(package) == package / "_plugin"
    repo_package = REPO / "agent_routing"
    assert find_plugin_source(repo_package) == REPO
    with pytest.raises(AgentRoutingError, match="plugin files are missing"):
        find_plugin_source(tmp_path / "empty" / "agent_routing")


def test_shipped_default_config_is_valid_and_equals_the_package_defaults() -> None:
    """default_config.yaml validates and says nothing the package defaults do not."""
    data = yaml.safe_load((REPO / "default_config.yaml").read_text())
    assert settings_from_mapping(data) == Settings()


def test_cli_install_prints_next_steps_and_is_idempotent(a0: Path) -> None:
    """`agent-routing install` installs, tells the user to restart and pip install in Docker."""
    runner = CliRunner()
    first = runner.invoke(main, ["install", str(a0)])
    assert first.exit_code == 0, first.output
    assert "Restart Agent Zero" in first.output
    assert "/opt/venv-a0" in first.output
    again = runner.invoke(main, ["install", str(a0), "--json"])
    assert again.exit_code == 0
    assert {a["action"] for a in json.loads(again.output)["actions"]} == {"unchanged"}
    gone = runner.invoke(main, ["install", str(a0), "--uninstall"])
    assert gone.exit_code == 0
    assert not (a0 / "usr" / "plugins" / "agent_routing").exists()


def test_cli_refuses_a_directory_that_is_not_agent_zero(tmp_path: Path) -> None:
    """A wrong path exits 2 with a message naming it; nothing is written."""
    target = tmp_path / "not-a0"
    target.mkdir()
    result = CliRunner().invoke(main, ["install", str(target)])
    assert result.exit_code == 2
    assert "not an Agent Zero directory" in result.output
    assert list(target.iterdir()) == []
