"""Record a tool that raised, and release the reservation of a main call that never ran."""

from helpers.extension import Extension

try:
    from agent_routing.host import failures, signals
except ImportError:  # agent-routing is not installed in Agent Zero's Python: stay inert
    signals = None


class AgentRoutingIterationEnd(Extension):
    async def execute(self, loop_data=None, **kwargs):
        if not self.agent or signals is None:
            return
        try:
            await signals.iteration_ended(self.agent, loop_data)
        except Exception:
            failures.log_failure(self.agent, "message_loop_end")
