"""The price snapshot shipped in the package: a newer litellm price map, read offline.

Agent Zero pins an old litellm (v1.7: 1.79.3), whose map does not know the models the host
itself offers by default. The package therefore ships the map of a newer litellm release
(``pricing/data/litellm_prices.json.gz``, litellm's own
``model_prices_and_context_window_backup.json``, MIT licence, copyright line and
provenance in ``pricing/data/litellm_prices.meta.json`` and ``pricing/data/LICENSE.litellm``).
:mod:`agent_routing.pricing` prices a model from whichever of the installed litellm map and
this snapshot is newer and knows it. Nothing here touches the network.

`agent-routing prices --update-snapshot FILE` refreshes it from a litellm wheel or a map
file (:func:`read_map`, :func:`write_snapshot`); a file with a bad entry changes nothing
and the error names the entry and field.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import json
import math
import re
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agent_routing.errors import ConfigError

DATA_DIR = Path(__file__).parent / "data"
MAP_FILE = "litellm_prices.json.gz"
META_FILE = "litellm_prices.meta.json"
LICENSE_FILE = "LICENSE.litellm"
SOURCE_FILE = "litellm/model_prices_and_context_window_backup.json"

# Fields whose value must be a non-negative number when present (the ones pricing reads).
_NUMBER_FIELDS = re.compile(
    r"^(input_cost_per_token|output_cost_per_token|cache_read_input_token_cost|"
    r"cache_creation_input_token_cost|output_cost_per_reasoning_token|"
    r"input_cost_per_token_cache_hit|max_input_tokens|max_output_tokens|max_tokens)"
    r"(_above_\d+(\.\d+)?k?_tokens)?$"
)
_WHEEL_NAME = re.compile(r"^litellm-(?P<version>[0-9][0-9A-Za-z.+!-]*?)-[^-]+-[^-]+-[^-]+\.whl$")


@dataclass(frozen=True, slots=True)
class SnapshotInfo:
    """Where the shipped snapshot came from (its metadata record)."""

    litellm_version: str
    entries: int
    license: str
    copyright: str
    source_file: str
    extracted_on: str
    sha256: str


def version_key(version: str) -> tuple[int, ...]:
    """A sortable key for a release number (`1.79.3` < `1.110.2`); non-digits end it."""
    parts = []
    for part in version.split("."):
        digits = re.match(r"\d+", part)
        if digits is None:
            break
        parts.append(int(digits.group()))
    return tuple(parts)


def info(data_dir: Path | None = None) -> SnapshotInfo | None:
    """The snapshot's metadata, or None when no (readable) snapshot ships."""
    return _info(DATA_DIR if data_dir is None else data_dir)


def price_map(data_dir: Path | None = None) -> Mapping[str, Mapping[str, Any]]:
    """The snapshot's entries by map key (empty when no snapshot ships). Read once."""
    return _price_map(DATA_DIR if data_dir is None else data_dir)


@functools.cache
def _info(data_dir: Path) -> SnapshotInfo | None:
    try:
        meta = json.loads((data_dir / META_FILE).read_text(encoding="utf-8"))
        return SnapshotInfo(
            litellm_version=str(meta["litellm_version"]),
            entries=int(meta["entries"]),
            license=str(meta["license"]),
            copyright=str(meta["copyright"]),
            source_file=str(meta["source_file"]),
            extracted_on=str(meta["extracted_on"]),
            sha256=str(meta["sha256"]),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


@functools.cache
def _price_map(data_dir: Path) -> Mapping[str, Mapping[str, Any]]:
    try:
        raw = gzip.decompress((data_dir / MAP_FILE).read_bytes())
        data = json.loads(raw)
    except (OSError, ValueError, EOFError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {
        key: value
        for key, value in data.items()
        if key != "sample_spec" and isinstance(value, dict)
    }


def clear_caches() -> None:
    """Forget the loaded snapshot (after :func:`write_snapshot`)."""
    _info.cache_clear()
    _price_map.cache_clear()


# --- refreshing the snapshot ----------------------------------------------------------------


def read_map(path: Path, version: str | None = None) -> tuple[bytes, str, str | None]:
    """Read a litellm price map from a wheel, a `.json` or a `.json.gz` file.

    Returns (the map's JSON bytes, the litellm version, the wheel's licence text or None).
    A wheel names its own version; a map file needs `version`. ConfigError names the file,
    entry and field of anything wrong; nothing is written.
    """
    if not path.is_file():
        raise ConfigError.single("snapshot", f"{path}: no such file")
    license_text: str | None = None
    if path.suffix == ".whl":
        match = _WHEEL_NAME.match(path.name)
        if match is None:
            raise ConfigError.single("snapshot", f"{path.name}: not a litellm wheel file name")
        wheel_version = match["version"]
        if version is not None and version != wheel_version:
            raise ConfigError.single(
                "litellm_version", f"{version!r} differs from the wheel's own {wheel_version!r}"
            )
        version = wheel_version
        try:
            with zipfile.ZipFile(path) as wheel:
                raw = wheel.read(SOURCE_FILE)
                licenses = [
                    n for n in wheel.namelist() if n.endswith(".dist-info/licenses/LICENSE")
                ]
                if licenses:
                    license_text = wheel.read(licenses[0]).decode("utf-8", "replace")
        except (zipfile.BadZipFile, KeyError, OSError) as error:
            raise ConfigError.single(
                "snapshot", f"{path}: cannot read {SOURCE_FILE}: {error}"
            ) from None
    else:
        try:
            raw = path.read_bytes()
            if path.suffix == ".gz":
                raw = gzip.decompress(raw)
        except (OSError, EOFError) as error:
            raise ConfigError.single("snapshot", f"{path}: cannot read: {error}") from None
    if version is None or not version_key(version):
        raise ConfigError.single(
            "litellm_version",
            f"the litellm release the map comes from is needed, e.g. 1.110.2 (got {version!r})",
        )
    validate_map(raw, str(path))
    return raw, version, license_text


def validate_map(raw: bytes, where: str) -> int:
    """Check a price map's JSON; return its entry count. ConfigError names every bad field."""
    try:
        data = json.loads(raw)
    except ValueError as error:
        raise ConfigError.single("snapshot", f"{where}: not valid JSON: {error}") from None
    if not isinstance(data, dict):
        raise ConfigError.single("snapshot", f"{where}: a price map is a JSON object of entries")
    problems: list[tuple[str, str]] = []
    entries = 0
    for key, entry in data.items():
        if key == "sample_spec":
            continue
        if not isinstance(entry, dict):
            problems.append((f"{key}", f"an entry must be an object (got {type(entry).__name__})"))
            continue
        entries += 1
        for name, value in entry.items():
            if not _NUMBER_FIELDS.match(name) or value is None:
                continue
            ok = isinstance(value, int | float) and not isinstance(value, bool)
            if not ok or not math.isfinite(value) or value < 0:
                problems.append((f"{key}.{name}", f"must be a non-negative number (got {value!r})"))
    if problems:
        raise ConfigError(problems[:20])
    if entries == 0:
        raise ConfigError.single("snapshot", f"{where}: the map has no entries")
    return entries


def write_snapshot(
    raw: bytes,
    version: str,
    license_text: str | None = None,
    *,
    data_dir: Path | None = None,
    today: str | None = None,
) -> SnapshotInfo:
    """Replace the shipped snapshot with this (validated) map; returns its metadata."""
    data_dir = DATA_DIR if data_dir is None else data_dir
    entries = validate_map(raw, "snapshot")
    data_dir.mkdir(parents=True, exist_ok=True)
    meta = {
        "litellm_version": version,
        "source_file": SOURCE_FILE,
        "license": "MIT",
        "copyright": "Copyright (c) 2023 Berri AI",
        "extracted_on": today or datetime.now(UTC).date().isoformat(),
        "entries": entries,
        "sha256": hashlib.sha256(raw).hexdigest(),
    }
    map_tmp = data_dir / f".{MAP_FILE}.tmp"
    map_tmp.write_bytes(gzip.compress(raw, compresslevel=9, mtime=0))
    map_tmp.replace(data_dir / MAP_FILE)
    if license_text is not None:
        (data_dir / LICENSE_FILE).write_text(license_text, encoding="utf-8")
    meta_tmp = data_dir / f".{META_FILE}.tmp"
    meta_tmp.write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    meta_tmp.replace(data_dir / META_FILE)
    clear_caches()
    found = info(data_dir)
    assert found is not None
    return found
