"""Reading agent transcripts: one JSON object per line with a `messages` list.

The format of `/work/shared/data/agent_transcripts/*.jsonl` (see that folder's README):
`{"id", ..., "messages": [{"role", "content", "tool_calls"?, ...}]}`. Tool calls are not
copied into `content`; the chat codec renders them as `name(arguments)` when counting and
compressing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent_routing.errors import ConfigError


@dataclass(frozen=True, slots=True)
class Transcript:
    """One recorded agent run."""

    id: str
    messages: list[dict[str, Any]]
    source: str  # "file:line", for messages naming it


def _invalid(source: str, message: str) -> ConfigError:
    return ConfigError.single(source, message)


def read_transcripts(path: Path) -> list[Transcript]:
    """Every transcript in the JSONL file `path` (blank lines are skipped).

    Raises ConfigError naming `file:line` for an unreadable file, a line that is not JSON,
    or a record without a list of message objects.
    """
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise _invalid(str(path), f"cannot read transcripts: {error}") from None
    transcripts: list[Transcript] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        source = f"{path}:{number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise _invalid(source, f"not valid JSON: {error.msg}") from None
        if not isinstance(record, dict):
            raise _invalid(source, f"must be a JSON object, got {type(record).__name__}")
        messages = record.get("messages")
        if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
            raise _invalid(source, "'messages' must be a list of message objects")
        transcripts.append(Transcript(str(record.get("id") or source), messages, source))
    return transcripts
