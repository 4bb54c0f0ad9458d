"""/api/plugins/agent_routing/budget: GET budget status; POST a budget (validated) or a removal."""

import json

from helpers.api import ApiHandler, Request, Response

try:
    from agent_routing.host import api as routing_api
except ImportError:  # agent-routing is not installed in Agent Zero's Python
    routing_api = None


class RoutingBudget(ApiHandler):
    @classmethod
    def get_methods(cls):
        return ["GET", "POST"]

    async def process(self, input: dict, request: Request) -> dict | Response:
        if routing_api is None:
            return Response(
                '{"error": "agent-routing is not installed"}', 503, mimetype="application/json"
            )
        if request.method == "POST":
            result = await routing_api.set_budget(input)
        else:
            result = await routing_api.budget_status(
                {key: request.args.get(key) for key in request.args}
            )
        if result.status == 200:
            return result.payload
        return Response(
            json.dumps(result.payload), status=result.status, mimetype="application/json"
        )
