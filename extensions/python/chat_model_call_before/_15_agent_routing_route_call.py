"""Apply the route to a chat call: tier, fallback chain, ledger attribution, budget."""

from helpers.extension import Extension

try:
    from agent_routing.host import failures, routing
except ImportError:  # agent-routing is not installed in Agent Zero's Python: stay inert
    routing = None


class AgentRoutingRouteCall(Extension):
    async def execute(self, call_data=None, **kwargs):
        if not self.agent or routing is None or call_data is None:
            return
        try:
            await routing.route_chat_call(self.agent, call_data)
        except Exception as error:
            if failures.is_budget_stop(error):
                raise  # the deliberate stop: a budget with enforcement "block"
            failures.log_failure(self.agent, "chat_model_call_before")
