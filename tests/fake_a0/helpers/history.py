"""Chat history (§8.3): topics of messages; `output()` returns the STORED content objects."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, TypedDict

from helpers.tokens import approximate_tokens


class OutputMessage(TypedDict):
    ai: bool
    content: Any


def _text(content: Any) -> str:
    return content if isinstance(content, str) else json.dumps(content, ensure_ascii=False)


@dataclass
class Message:
    ai: bool
    content: Any
    tokens: int = 0
    id: str = ""
    summary: str = ""

    def output(self) -> list[OutputMessage]:
        return [{"ai": self.ai, "content": self.summary or self.content}]


@dataclass
class Topic:
    messages: list[Message] = field(default_factory=list)
    summary: str = ""


class History:
    def __init__(self, agent: Any) -> None:
        self.agent = agent
        self.topics: list[Topic] = []
        self.current = Topic()
        self.counter = 0

    def add_message(self, ai: bool, content: Any, tokens: int = 0, id: str = "") -> Message:
        self.counter += 1
        message = Message(
            ai=ai, content=content, tokens=tokens or approximate_tokens(_text(content)), id=id
        )
        self.current.messages.append(message)
        return message

    def new_topic(self) -> None:
        if self.current.messages:
            self.topics.append(self.current)
        self.current = Topic()

    def output(self) -> list[OutputMessage]:
        result: list[OutputMessage] = []
        for topic in [*self.topics, self.current]:
            for message in topic.messages:
                result.extend(message.output())
        return result

    def serialize(self) -> list[list[dict[str, Any]]]:
        return [
            [{"ai": m.ai, "content": m.content, "tokens": m.tokens, "id": m.id} for m in t.messages]
            for t in [*self.topics, self.current]
        ]

    def is_over_limit(self) -> bool:
        return False


def output_text(
    messages: list[OutputMessage], ai_label: str = "ai", human_label: str = "human"
) -> str:
    return "\n".join(
        f"{ai_label if m['ai'] else human_label}: {_text(m['content'])}" for m in messages
    )
