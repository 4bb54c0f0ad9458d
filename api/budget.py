"""/api/plugins/agent_routing/budget: GET budget status; POST a budget (validated) or a removal."""

from helpers.api import ApiHandler, Request, Response

try:
    from agent_routing.host.api_http import serve
except ImportError:  # agent-routing is not installed in Agent Zero's Python
    serve = None


class RoutingBudget(ApiHandler):
    @classmethod
    def get_methods(cls):
        return ["GET", "POST"]

    async def process(self, input: dict, request: Request) -> dict | Response:
        if serve is None:
            return Response(
                '{"error": "agent-routing is not installed"}', 503, mimetype="application/json"
            )
        return await serve("budget", input, request, Response)
