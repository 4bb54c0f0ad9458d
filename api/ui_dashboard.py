"""POST /api/plugins/agent_routing/ui_dashboard: one section of the cost dashboard
(summary, breakdown, daily, budgets, routing, calls)."""

from helpers.api import ApiHandler, Request, Response

try:
    from agent_routing.host.ui_api import serve
except ImportError:  # agent-routing is not installed in Agent Zero's Python
    serve = None


class AgentRoutingUiDashboard(ApiHandler):
    @classmethod
    def get_methods(cls):
        return ["GET", "POST"]

    async def process(self, input: dict, request: Request) -> dict | Response:
        if serve is None:
            return Response(
                '{"error": "agent-routing is not installed"}', 503, mimetype="application/json"
            )
        return await serve("ui_dashboard", input, request, Response)
