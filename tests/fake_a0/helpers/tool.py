"""Tool base class and Response (§6.1)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class Response:
    message: str
    break_loop: bool
    additional: dict[str, Any] | None = None


class Tool:
    def __init__(
        self,
        agent: Any,
        name: str,
        method: str | None,
        args: dict[str, Any],
        message: str,
        loop_data: Any,
        **kwargs: Any,
    ) -> None:
        self.agent = agent
        self.name = name
        self.method = method
        self.args = args
        self.message = message
        self.loop_data = loop_data
        self.progress = ""

    async def execute(self, **kwargs: Any) -> Response:
        raise NotImplementedError

    async def before_execution(self, **kwargs: Any) -> None:
        self.log = self.agent.context.log.log(
            type="tool",
            heading=f"{self.agent.agent_name}: Using tool '{self.name}'",
            kvps=dict(self.args),
        )

    async def after_execution(self, response: Response, **kwargs: Any) -> None:
        text = response.message.strip()
        self.agent.hist_add_tool_result(
            self.name, text, id=self.log.id, **(response.additional or {})
        )
        self.log.update(content=text)

    async def set_progress(self, content: str | None) -> None:
        self.progress = content or ""
        from helpers.extension import call_extensions_async

        ctx = {"content": self.progress}
        await call_extensions_async("tool_output_update", self.agent, ctx=ctx)

    def add_progress(self, content: str | None) -> None:
        self.progress += content or ""
