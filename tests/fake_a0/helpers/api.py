"""API handlers (§7): the ApiHandler contract, flask-like Request/Response, plugin routing.

`dispatch()` plays the Flask rule `/api/<path:path>`: core `api/<stem>.py` or plugin
`<plugin dir>/api/<handler>.py` at `/api/plugins/<plugin>/<handler>`, the alphabetically
last ApiHandler subclass, method check (405), CSRF check (403) and `handle_request`.
"""

from __future__ import annotations

import json
import threading
import traceback
from pathlib import Path
from typing import Any

from helpers.extension import load_module_classes
from helpers.files import BASE_DIR

CSRF_TOKEN = "test-csrf-token"  # the session token a logged-in browser would send


class Request:
    def __init__(
        self,
        method: str = "GET",
        args: dict[str, str] | None = None,
        json_body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.method = method
        self.args = dict(args or {})
        self._json = json_body
        self.headers = dict(headers or {})
        self.is_json = json_body is not None

    def get_json(self, silent: bool = False) -> Any:
        return self._json


class Response:
    def __init__(
        self,
        response: Any = None,
        status: int | None = None,
        headers: dict[str, str] | None = None,
        mimetype: str | None = None,
        content_type: str | None = None,
    ) -> None:
        self.data = (
            response
            if isinstance(response, (str, bytes))
            else ("" if response is None else str(response))
        )
        self.status_code = 200 if status is None else int(status)
        self.headers = dict(headers or {})
        self.mimetype = mimetype or (content_type or "text/html").split(";")[0]

    def get_data(self, as_text: bool = False) -> Any:
        if as_text:
            return self.data.decode() if isinstance(self.data, bytes) else self.data
        return self.data.encode() if isinstance(self.data, str) else self.data

    def get_json(self) -> Any:
        return json.loads(self.get_data(as_text=True))


class ApiHandler:
    def __init__(self, app: Any, thread_lock: Any) -> None:
        self.app = app
        self.thread_lock = thread_lock

    @classmethod
    def requires_loopback(cls) -> bool:
        return False

    @classmethod
    def requires_api_key(cls) -> bool:
        return False

    @classmethod
    def requires_auth(cls) -> bool:
        return True

    @classmethod
    def requires_csrf(cls) -> bool:
        return cls.requires_auth()

    @classmethod
    def get_methods(cls) -> list[str]:
        return ["POST"]

    async def process(self, input: dict[str, Any], request: Request) -> dict[str, Any] | Response:
        raise NotImplementedError

    async def handle_request(self, request: Request) -> Response:
        try:
            body = request.get_json() if request.is_json else None
            payload = body if isinstance(body, dict) and body else {}
            output = await self.process(payload, request)
            if isinstance(output, Response):
                return output
            return Response(json.dumps(output), status=200, mimetype="application/json")
        except Exception:
            return Response(traceback.format_exc(), status=500, mimetype="text/plain")


def _handler_file(path: str) -> Path | None:
    parts = path.strip("/").split("/")
    if len(parts) == 3 and parts[0] == "plugins":
        for parent in (BASE_DIR / "usr" / "plugins", BASE_DIR / "plugins"):
            candidate = parent / parts[1] / "api" / f"{parts[2]}.py"
            if candidate.is_file():
                return candidate
        return None
    candidate = BASE_DIR / "api" / f"{path.strip('/')}.py"
    return candidate if candidate.is_file() else None


async def dispatch(
    path: str,
    method: str = "GET",
    *,
    args: dict[str, str] | None = None,
    json_body: Any = None,
    csrf: bool = True,
) -> Response:
    """Serve `/api/<path>` the way the host's Flask rule does."""
    file = _handler_file(path)
    if file is None:
        return Response("Not found", status=404, mimetype="text/plain")
    handler_cls = load_module_classes(file, ApiHandler)[0]
    if method not in handler_cls.get_methods():
        return Response("Method not allowed", status=405, mimetype="text/plain")
    headers = {"X-CSRF-Token": CSRF_TOKEN} if csrf else {}
    if handler_cls.requires_csrf() and headers.get("X-CSRF-Token") != CSRF_TOKEN:
        return Response("CSRF token missing or invalid", status=403, mimetype="text/plain")
    request = Request(method=method, args=args, json_body=json_body, headers=headers)
    return await handler_cls(None, threading.Lock()).handle_request(request)
