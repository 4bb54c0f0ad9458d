"""GET /api/plugins/agent_routing/chat_costs?context=<chat id>: one chat's costs and decisions."""

from helpers.api import ApiHandler, Request, Response

try:
    from agent_routing.host.api_http import serve
except ImportError:  # agent-routing is not installed in Agent Zero's Python
    serve = None


class RoutingChatCosts(ApiHandler):
    @classmethod
    def get_methods(cls):
        return ["GET"]

    async def process(self, input: dict, request: Request) -> dict | Response:
        if serve is None:
            return Response(
                '{"error": "agent-routing is not installed"}', 503, mimetype="application/json"
            )
        return await serve("chat_costs", input, request, Response)
