"""POST /api/plugins/agent_routing/ui_settings: validate a plugin configuration; list and
price models (the settings screen)."""

from helpers.api import ApiHandler, Request, Response

try:
    from agent_routing.host.ui_api import serve
except ImportError:  # agent-routing is not installed in Agent Zero's Python
    serve = None


class AgentRoutingUiSettings(ApiHandler):
    @classmethod
    def get_methods(cls):
        return ["GET", "POST"]

    async def process(self, input: dict, request: Request) -> dict | Response:
        if serve is None:
            return Response(
                '{"error": "agent-routing is not installed"}', 503, mimetype="application/json"
            )
        return await serve("ui_settings", input, request, Response)
