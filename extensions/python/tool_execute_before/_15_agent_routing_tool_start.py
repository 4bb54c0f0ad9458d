"""Attribute the LLM calls made inside this tool (subordinates, document queries) to it."""

from helpers.extension import Extension

try:
    from agent_routing.host import failures, signals
except ImportError:  # agent-routing is not installed in Agent Zero's Python: stay inert
    signals = None


class AgentRoutingToolStart(Extension):
    async def execute(self, tool_args=None, tool_name=None, **kwargs):
        if not self.agent or signals is None:
            return
        try:
            signals.tool_started(self.agent, tool_name or "")
        except Exception:
            failures.log_failure(self.agent, "tool_execute_before")
