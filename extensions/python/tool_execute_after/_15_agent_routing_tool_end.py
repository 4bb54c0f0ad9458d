"""End the tool's attribution; record a failing result or the final answer as a signal."""

from helpers.extension import Extension

try:
    from agent_routing.host import failures, signals
except ImportError:  # agent-routing is not installed in Agent Zero's Python: stay inert
    signals = None


class AgentRoutingToolEnd(Extension):
    async def execute(self, response=None, tool_name=None, **kwargs):
        if not self.agent or signals is None:
            return
        try:
            signals.tool_finished(self.agent, tool_name or "", response)
        except Exception:
            failures.log_failure(self.agent, "tool_execute_after")
