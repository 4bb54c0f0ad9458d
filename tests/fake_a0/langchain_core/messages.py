"""Stand-in for the three LangChain message classes Agent Zero passes to chat models."""

from __future__ import annotations

from typing import Any


class BaseMessage:
    type = "base"

    def __init__(self, content: Any) -> None:
        self.content = content

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.content!r})"


class SystemMessage(BaseMessage):
    type = "system"


class HumanMessage(BaseMessage):
    type = "human"


class AIMessage(BaseMessage):
    type = "ai"
