"""Paths relative to the Agent Zero root, and prompt-file templating (§9)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parent.parent

_INCLUDE = re.compile(r"\{\{\s*include\s+\"([^\"]+)\"\s*\}\}")
_VAR = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


def get_abs_path(*parts: str) -> str:
    return str(BASE_DIR.joinpath(*parts))


def find_prompt(file: str, dirs: list[str]) -> Path | None:
    for folder in dirs:
        candidate = Path(folder) / file
        if candidate.is_file():
            return candidate
    return None


def read_prompt_file(file: str, dirs: list[str], **kwargs: Any) -> str:
    """First file with the name wins; `{{name}}` -> str(value); unknown placeholders stay."""
    path = find_prompt(file, dirs)
    if path is None:
        raise FileNotFoundError(f"prompt {file!r} not found in {dirs}")
    text = path.read_text(encoding="utf-8")
    text = _INCLUDE.sub(lambda m: read_prompt_file(m.group(1), dirs, **kwargs), text)

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        return str(kwargs[name]) if name in kwargs else match.group(0)

    return _VAR.sub(replace, text)


def parse_file(file: str, dirs: list[str], **kwargs: Any) -> Any:
    """A fenced JSON template becomes a parsed object (placeholders get json.dumps(value))."""
    path = find_prompt(file, dirs)
    if path is None:
        raise FileNotFoundError(f"prompt {file!r} not found in {dirs}")
    text = path.read_text(encoding="utf-8").strip()
    if text.startswith("```json") and text.endswith("```"):
        body = text[len("```json") : -3]
        body = _VAR.sub(lambda m: json.dumps(kwargs.get(m.group(1))), body)
        return json.loads(body)
    return read_prompt_file(file, dirs, **kwargs)
