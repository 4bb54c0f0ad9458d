"""The UI log of a context: items with a type, heading and content."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

_ids = itertools.count(1)


@dataclass
class LogItem:
    type: str
    heading: str = ""
    content: str = ""
    kvps: dict[str, Any] = field(default_factory=dict)
    id: str = field(default_factory=lambda: str(next(_ids)))

    def update(self, **kwargs: Any) -> None:
        for key, value in kwargs.items():
            setattr(self, key, value)


class Log:
    def __init__(self) -> None:
        self.logs: list[LogItem] = []

    def log(
        self,
        type: str,
        heading: str = "",
        content: str = "",
        kvps: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> LogItem:
        item = LogItem(type=type, heading=heading, content=content, kvps=dict(kvps or {}))
        self.logs.append(item)
        return item
