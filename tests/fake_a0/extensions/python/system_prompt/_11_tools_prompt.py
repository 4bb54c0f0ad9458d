from pathlib import Path

from helpers.extension import Extension
from helpers.subagents import get_paths


class ToolsPrompt(Extension):
    async def execute(self, system_prompt=None, loop_data=None, **kwargs):
        if not self.agent:
            return
        names = set()
        for folder in get_paths(self.agent, "prompts"):
            names.update(p.name for p in Path(folder).glob("agent.system.tool.*.md"))  # noqa: ASYNC240 - as the host does
        extra = self.agent.get_data("_tool_prompt_kwargs") or {}
        parts = [self.agent.read_prompt(name, **extra.get(name, {})) for name in sorted(names)]
        system_prompt.append(
            self.agent.read_prompt("agent.system.tools.md", tools="\n\n".join(parts))
        )
