"""Before the host's own monologue_start work (memory embeds here): capture on, scope set."""

from helpers.extension import Extension

try:
    from agent_routing.host import call_scope, failures
except ImportError:  # agent-routing is not installed in Agent Zero's Python: stay inert
    call_scope = None


class AgentRoutingScope(Extension):
    async def execute(self, loop_data=None, **kwargs):
        if not self.agent or call_scope is None:
            return
        try:
            call_scope.monologue_started(self.agent)
        except Exception:
            failures.log_failure(self.agent, "monologue_start")
