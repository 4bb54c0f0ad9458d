"""Commit this turn's ledger records before the next turn starts."""

from helpers.extension import Extension

try:
    from agent_routing.host import failures, signals
except ImportError:  # agent-routing is not installed in Agent Zero's Python: stay inert
    signals = None


class AgentRoutingFlush(Extension):
    async def execute(self, loop_data=None, **kwargs):
        if not self.agent or signals is None:
            return
        try:
            await signals.monologue_ended(self.agent)
        except Exception:
            failures.log_failure(self.agent, "monologue_end")
