"""POST /api/plugins/agent_routing/ui_chat: one chat's spend, tightest budget, tier and
routing savings (the chat cost element)."""

from helpers.api import ApiHandler, Request, Response

try:
    from agent_routing.host.ui_api import serve
except ImportError:  # agent-routing is not installed in Agent Zero's Python
    serve = None


class AgentRoutingUiChat(ApiHandler):
    @classmethod
    def get_methods(cls):
        return ["GET", "POST"]

    async def process(self, input: dict, request: Request) -> dict | Response:
        if serve is None:
            return Response(
                '{"error": "agent-routing is not installed"}', 503, mimetype="application/json"
            )
        return await serve("ui_chat", input, request, Response)
