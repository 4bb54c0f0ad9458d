"""The HTTP side of the cost API: one entry point the thin `api/*.py` handler files call.

Each handler file is a host `ApiHandler` subclass that names its endpoint and passes the
host's `Response` class in; reading the query string, choosing the operation by method,
and turning a non-200 :class:`~agent_routing.host._api.ApiResult` into a JSON response are
done here once. A 200 payload is returned as a dict, which the host serialises itself.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from agent_routing.errors import ConfigError
from agent_routing.host import _api as api

# endpoint -> (GET operation, POST operation or None, whether a GET body adds parameters)
_ENDPOINTS: dict[
    str,
    tuple[
        Callable[[Mapping[str, Any]], Awaitable[api.ApiResult]],
        Callable[[Mapping[str, Any]], Awaitable[api.ApiResult]] | None,
        bool,
    ],
] = {
    "costs": (api.costs, None, True),
    "chat_costs": (api.chat_costs, None, True),
    "budget": (api.budget_status, api.set_budget, False),
}


def _query(request: Any) -> dict[str, Any]:
    args = getattr(request, "args", None) or {}
    return {key: args.get(key) for key in args}


async def serve(endpoint: str, body: Mapping[str, Any], request: Any, response: Any) -> Any:
    """Answer one request to `/api/plugins/agent_routing/<endpoint>`.

    `body` is the host's parsed JSON input, `request` its request object, `response` its
    `Response` class (used for every non-200 answer, so the status code reaches the client).
    """
    get, post, body_adds_params = _ENDPOINTS[endpoint]
    if body is None:
        body = {}
    if not isinstance(body, Mapping):  # e.g. a JSON list: 400 naming the body
        error = ConfigError.single(
            "body", f"must be a JSON object (got a JSON {type(body).__name__})"
        )
        result = api.bad_request(error)
        return response(
            json.dumps(result.payload), status=result.status, mimetype="application/json"
        )
    if getattr(request, "method", "GET") == "POST" and post is not None:
        result = await post(body)
    else:
        params = {**_query(request), **body} if body_adds_params else _query(request)
        result = await get(params)
    if result.status == 200:
        return result.payload
    return response(json.dumps(result.payload), status=result.status, mimetype="application/json")
