"""Analyze this step and choose the tier of its main LLM call (a budget block ends the turn)."""

from helpers.extension import Extension

try:
    from agent_routing.host import call_scope, failures, routing
except ImportError:  # agent-routing is not installed in Agent Zero's Python: stay inert
    routing = None


class AgentRoutingRoute(Extension):
    async def execute(self, loop_data=None, **kwargs):
        if not self.agent or routing is None:
            return
        try:
            call_scope.enter_agent(self.agent)  # a subordinate's turn may have ended
        except Exception:
            failures.log_failure(self.agent, "message_loop_start (scope)")
        try:
            await routing.route_iteration(self.agent, loop_data)
        except Exception as error:
            if failures.is_budget_stop(error):
                raise  # the deliberate stop: a budget with enforcement "block"
            failures.log_failure(self.agent, "message_loop_start")
