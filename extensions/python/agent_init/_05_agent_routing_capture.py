"""Start capture when a chat's agent is built: before the host's first LLM call (sync point)."""

from helpers.extension import Extension

try:
    from agent_routing.host import call_scope, failures
except ImportError:  # agent-routing is not installed in Agent Zero's Python: stay inert
    call_scope = None


class AgentRoutingCapture(Extension):
    def execute(self, **kwargs):
        if not self.agent or call_scope is None:
            return
        try:
            call_scope.start_capture(self.agent)
        except Exception:
            failures.log_failure(self.agent, "agent_init")
