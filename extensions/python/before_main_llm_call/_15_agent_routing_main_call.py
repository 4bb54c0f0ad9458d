"""Flag the next chat call with a response callback as this iteration's main call."""

from helpers.extension import Extension

try:
    from agent_routing.host import failures, routing
except ImportError:  # agent-routing is not installed in Agent Zero's Python: stay inert
    routing = None


class AgentRoutingMainCall(Extension):
    async def execute(self, loop_data=None, **kwargs):
        if not self.agent or routing is None:
            return
        try:
            routing.mark_main_call(loop_data)
        except Exception:
            failures.log_failure(self.agent, "before_main_llm_call")
