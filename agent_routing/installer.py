"""Install the Agent Zero plugin into an Agent Zero checkout, and take it out again.

The plugin's files ship inside the wheel as `agent_routing/_plugin/` (a source or editable
install reads them from the repo top level instead). `install` copies them to
`usr/plugins/agent_routing/` and writes a manifest with the SHA-256 of every file it wrote.
The manifest is what makes the installer safe to run again:

- a file the user has not touched is updated to the new version;
- a file whose hash differs from what was written (the user edited it) is kept, and
  reported, never overwritten silently;
- a file the installer never wrote (e.g. `config.json` saved by the settings UI) is never
  touched, not even by `uninstall`.

`uninstall` removes exactly the files whose hash still matches the manifest, then the
manifest, the bytecode caches next to them and the folders left empty.

The manifest is read as untrusted: an entry that does not resolve inside the plugin folder
(`../`, an absolute path, a symbolic link leading out) is ignored with a warning, so
neither command ever touches a file outside it. File-system errors (permissions, a file
where a folder belongs) are reported as a ConfigError naming the path (CLI exit 2).
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from agent_routing.errors import AgentRoutingError, ConfigError
from agent_routing.host.layout import PLUGIN_NAME, Layout, detect_layout, plugin_dir

logger = logging.getLogger("agent_routing.installer")

MANIFEST_NAME = ".agent_routing_manifest.json"
# What belongs to the plugin, relative to the plugin source folder.
PLUGIN_ENTRIES: tuple[str, ...] = (
    "plugin.yaml",
    "default_config.yaml",
    "extensions",
    "tools",
    "prompts",
    "api",
    *("webui", "hooks.py", "LICENSE"),  # Agent Zero UI and host hooks (#12)
)
_SKIPPED_NAMES = {"__pycache__", ".gitkeep", ".DS_Store"}


class Action(StrEnum):
    """What the installer did (or, in a dry run, would do) with one path."""

    CREATE = "create"
    UPDATE = "update"
    UNCHANGED = "unchanged"
    KEEP_EDITED = "keep-edited"  # the user changed a file we wrote: left alone
    KEEP_USER = "keep-user"  # a file we never wrote: left alone
    REMOVE = "remove"


@dataclass(slots=True, frozen=True)
class FileAction:
    """One path (relative to the plugin folder) and what happened to it."""

    path: str
    action: Action


@dataclass(slots=True)
class InstallReport:
    """The outcome of an install or uninstall, for the CLI to print."""

    root: Path
    layout: Layout
    plugin_dir: Path
    dry_run: bool
    actions: list[FileAction] = field(default_factory=list)
    next_steps: list[str] = field(default_factory=list)

    def paths(self, action: Action) -> list[str]:
        """The paths that got `action`, in order."""
        return [item.path for item in self.actions if item.action is action]


def find_plugin_source(package_dir: Path | None = None) -> Path:
    """The folder holding `plugin.yaml` & co: `_plugin/` in a wheel, else the repo top level."""
    if package_dir is None:
        package_dir = Path(__file__).resolve().parent
    for candidate in (package_dir / "_plugin", package_dir.parent):
        if (candidate / "plugin.yaml").is_file() and (candidate / "extensions").is_dir():
            return candidate
    raise AgentRoutingError(
        f"the plugin files are missing: neither {str(package_dir / '_plugin')!r} nor "
        f"{str(package_dir.parent)!r} holds plugin.yaml; reinstall agent-routing"
    )


def plugin_files(source: Path) -> dict[str, Path]:
    """Every plugin file under `source`, keyed by its POSIX path relative to `source`."""
    files: dict[str, Path] = {}
    for entry in PLUGIN_ENTRIES:
        path = source / entry
        candidates = [path] if path.is_file() else sorted(path.rglob("*")) if path.is_dir() else []
        for file in candidates:
            relative = file.relative_to(source)
            if not file.is_file() or _SKIPPED_NAMES.intersection(relative.parts):
                continue
            if file.suffix == ".pyc":
                continue
            files[relative.as_posix()] = file
    return files


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _read_manifest(target: Path) -> dict[str, str]:
    path = target / MANIFEST_NAME
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise AgentRoutingError(
            f"cannot read the install manifest {str(path)!r}: {error}; "
            "move it away to reinstall from scratch"
        ) from None
    files = data.get("files") if isinstance(data, dict) else None
    if not isinstance(files, dict):
        raise AgentRoutingError(f"the install manifest {str(path)!r} has no 'files' mapping")
    entries = {}
    for key, value in files.items():
        if inside(target, str(key)):
            entries[str(key)] = str(value)
        else:  # never touch a path outside the plugin folder, whatever the manifest says
            logger.warning(
                "install manifest %s: ignoring %r, which is not inside %s", path, key, target
            )
    return entries


def inside(target: Path, relative: str) -> bool:
    """Whether `relative` names a path inside `target`: relative, no `..`, and still inside
    once symbolic links are resolved (a manifest is a file anyone could have edited)."""
    candidate = Path(relative)
    if not relative or candidate.is_absolute() or candidate.drive or ".." in candidate.parts:
        return False
    try:
        return (target / candidate).resolve().is_relative_to(target.resolve())
    except (OSError, RuntimeError, ValueError):  # a symlink loop, an invalid name
        return False


def _write_manifest(target: Path, files: dict[str, str]) -> None:
    from agent_routing import __version__

    payload = {"plugin": PLUGIN_NAME, "version": __version__, "files": dict(sorted(files.items()))}
    temporary = target / f"{MANIFEST_NAME}.tmp"
    temporary.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    temporary.replace(target / MANIFEST_NAME)


def _copy(source: Path, destination: Path) -> None:
    destination.parent.mkdir(parents=True, exist_ok=True)
    temporary = destination.with_name(destination.name + ".agent_routing.tmp")
    shutil.copyfile(source, temporary)
    temporary.replace(destination)


def _resolve_target(root: Path) -> tuple[Layout, Path]:
    root = root.expanduser()
    layout = detect_layout(root)
    return layout, plugin_dir(root, layout)


def _install_action(relative: str, wanted: str, destination: Path, old: dict[str, str]) -> Action:
    """Decide what to do with one shipped file, given what is on disk and in the manifest."""
    if not destination.exists():
        return Action.CREATE
    current = _sha256(destination)
    if current == wanted:
        return Action.UNCHANGED
    if old.get(relative) == current:
        return Action.UPDATE  # still exactly what we wrote last time
    return Action.KEEP_EDITED if relative in old else Action.KEEP_USER


def _file_errors(work: Callable[[], InstallReport], root: Path) -> InstallReport:
    """An error of the file system (permissions, a file where a folder belongs) becomes a
    ConfigError naming the Agent Zero folder and the path, not a traceback."""
    try:
        return work()
    except OSError as error:
        where = error.filename or root
        raise ConfigError.single(
            "agent_zero_root",
            f"cannot change {str(where)!r}: {error.strerror or error} (check the folder's "
            "owner and permissions; run as the user who owns the Agent Zero files)",
        ) from None


def install(root: Path, *, dry_run: bool = False, source: Path | None = None) -> InstallReport:
    """Install or update the plugin in the Agent Zero at `root` (idempotent)."""
    return _file_errors(lambda: _install(root, dry_run=dry_run, source=source), root)


def uninstall(root: Path, *, dry_run: bool = False) -> InstallReport:
    """Remove exactly the plugin files `install` wrote and the user has not edited."""
    return _file_errors(lambda: _uninstall(root, dry_run=dry_run), root)


def _install(root: Path, *, dry_run: bool, source: Path | None) -> InstallReport:
    layout, target = _resolve_target(root)
    source = source or find_plugin_source()
    report = InstallReport(root=root, layout=layout, plugin_dir=target, dry_run=dry_run)
    old_manifest = _read_manifest(target)
    new_manifest: dict[str, str] = {}
    shipped = plugin_files(source)
    for relative, file in shipped.items():
        wanted = _sha256(file)
        action = _install_action(relative, wanted, target / relative, old_manifest)
        report.actions.append(FileAction(relative, action))
        if action is Action.KEEP_EDITED:
            new_manifest[relative] = old_manifest[relative]  # still ours; still edited
        elif action is not Action.KEEP_USER:
            new_manifest[relative] = wanted
            if not dry_run and action is not Action.UNCHANGED:
                _copy(file, target / relative)
    for relative, recorded in old_manifest.items():
        stale = target / relative  # shipped by an older version, gone from this one
        if relative in shipped or not stale.is_file():
            continue
        unedited = _sha256(stale) == recorded
        report.actions.append(
            FileAction(relative, Action.REMOVE if unedited else Action.KEEP_EDITED)
        )
        if unedited and not dry_run:
            stale.unlink()
    if not dry_run:
        target.mkdir(parents=True, exist_ok=True)
        _write_manifest(target, new_manifest)
    report.next_steps = _install_next_steps(root)
    return report


def _uninstall(root: Path, *, dry_run: bool) -> InstallReport:
    layout, target = _resolve_target(root)
    report = InstallReport(root=root, layout=layout, plugin_dir=target, dry_run=dry_run)
    manifest = _read_manifest(target)
    if not manifest:
        report.next_steps = [f"Nothing to uninstall: no agent-routing install in {target}."]
        return report
    for relative, recorded in sorted(manifest.items()):
        path = target / relative
        if not path.is_file():
            continue
        if _sha256(path) == recorded:
            report.actions.append(FileAction(relative, Action.REMOVE))
            if not dry_run:
                path.unlink()
        else:
            report.actions.append(FileAction(relative, Action.KEEP_EDITED))
    for path in sorted(target.rglob("*")) if target.is_dir() else []:
        relative = path.relative_to(target).as_posix()
        if path.is_file() and relative not in manifest and relative != MANIFEST_NAME:
            if "__pycache__" in path.parts:
                continue
            report.actions.append(FileAction(relative, Action.KEEP_USER))
    if not dry_run:
        (target / MANIFEST_NAME).unlink()
        _remove_caches_and_empty_dirs(target, manifest)
    kept = report.paths(Action.KEEP_EDITED) + report.paths(Action.KEEP_USER)
    report.next_steps = ["Restart Agent Zero so it stops loading the plugin."]
    if kept:
        report.next_steps.append(f"Kept {len(kept)} file(s) you edited or created in {target}.")
    return report


def _remove_caches_and_empty_dirs(target: Path, manifest: dict[str, str]) -> None:
    """Drop bytecode caches next to our files, then every owned folder left empty."""
    owned: set[Path] = set()
    for relative in manifest:
        folder = (target / relative).parent
        while True:
            owned.add(folder)
            if folder in (target, folder.parent):  # the plugin folder; never past the root
                break
            folder = folder.parent
    for folder in owned:
        if (folder / "__pycache__").is_dir():
            shutil.rmtree(folder / "__pycache__")
    for folder in sorted(owned, key=lambda p: len(p.parts), reverse=True):
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()


def _install_next_steps(root: Path) -> list[str]:
    return [
        "Restart Agent Zero so it loads the plugin (Docker: docker restart <container>).",
        "The plugin imports this package, so agent-routing must be installed in Agent Zero's "
        "own Python too (Docker: docker exec <container> /opt/venv-a0/bin/pip install "
        "agent-routing).",
        "Costs: `agent-routing costs`, or GET /api/plugins/agent_routing/costs in the UI session.",
        f"Configure tiers and budgets in {root / 'usr' / 'plugins' / PLUGIN_NAME / 'config.json'}"
        " (the plugin settings UI writes it).",
    ]
