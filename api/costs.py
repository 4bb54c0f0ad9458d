"""GET /api/plugins/agent_routing/costs: totals and a breakdown (by, since, until, tz, top)."""

import json

from helpers.api import ApiHandler, Request, Response

try:
    from agent_routing.host import api as routing_api
except ImportError:  # agent-routing is not installed in Agent Zero's Python
    routing_api = None


class RoutingCosts(ApiHandler):
    @classmethod
    def get_methods(cls):
        return ["GET"]

    async def process(self, input: dict, request: Request) -> dict | Response:
        if routing_api is None:
            return Response(
                '{"error": "agent-routing is not installed"}', 503, mimetype="application/json"
            )
        params = {**{key: request.args.get(key) for key in request.args}, **input}
        result = await routing_api.costs(params)
        if result.status == 200:
            return result.payload
        return Response(
            json.dumps(result.payload), status=result.status, mimetype="application/json"
        )
