"""A test web server playing Agent Zero's web UI for the plugin's pages (browser tests).

It serves, like the host: the plugin's own files at `/plugins/agent_routing/<path>` and
`/usr/plugins/agent_routing/<path>` (only `webui/` and `extensions/webui/`, from the copy
the installer put into the fake Agent Zero root), `POST /api/load_webui_extensions`,
`POST /api/plugins` (`get_config` / `save_config`, calling the plugin's `hooks.py`
`save_plugin_config` first as the host does) and `/api/plugins/agent_routing/<handler>`
through the fake host's own API dispatch (so the real handler files answer). The host's JS
conventions come from `tests/ui/host/` (see its README), Alpine.js from `tests/ui/.vendor/`.
Two pages stand in for the host's screens (`tests/ui/host/`): `/chat.html?ctx=<chat
id>&anchors=v1|v2` (a chat with the model strip and the input strip anchors, a toast stack, a
modal area) and `/settings.html` (the plugin settings modal with its Save button).
"""

from __future__ import annotations

import asyncio
import fnmatch
import json
import threading
import traceback
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

HERE = Path(__file__).resolve().parent
STUBS = HERE / "host"
ALPINE = HERE / ".vendor" / "alpine-3.14.9.min.js"
PLUGIN = "agent_routing"
TYPES = {".html": "text/html", ".js": "text/javascript", ".json": "application/json"}


class UiServer:
    """Serves the pages above for one fake host; `url` is its base address."""

    def __init__(self, host: Any) -> None:
        self.host = host
        self.loop = asyncio.new_event_loop()
        self._loop_thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._loop_thread.start()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()
        self.url = f"http://127.0.0.1:{self.httpd.server_port}"
        self.saved_configs: list[dict[str, Any]] = []

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._loop_thread.join(5)

    # --- what the host does ---------------------------------------------------------

    def run(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(60)

    def plugin_api(self, handler: str, body: Any) -> tuple[int, str, str]:
        response = self.run(
            self.host.api.dispatch(f"plugins/{PLUGIN}/{handler}", "POST", json_body=body)
        )
        return response.status_code, response.mimetype, response.get_data(as_text=True)

    def plugins_api(self, body: dict[str, Any]) -> tuple[int, str, str]:
        plugins = self.host.plugins
        action = body.get("action")
        if action == "get_config":
            data = plugins.get_plugin_config(PLUGIN) or {}
            return 200, "application/json", json.dumps({"ok": True, "data": data})
        if action == "get_default_config":
            import yaml

            file = self.host.plugin_dir / "default_config.yaml"
            data = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
            return 200, "application/json", json.dumps({"ok": True, "data": data})
        if action == "save_config":
            settings = body.get("settings")
            if not isinstance(settings, dict):
                return 400, "text/plain", "settings must be an object"
            try:  # the host calls the plugin's save hook, then writes what it returns
                result = plugins.call_plugin_hook(
                    PLUGIN, "save_plugin_config", default=settings, settings=settings
                )
            except Exception:
                return 500, "text/plain", traceback.format_exc()
            if result is not None:
                plugins.save_plugin_config(PLUGIN, result)
                self.saved_configs.append(result)
            return 200, "application/json", json.dumps({"ok": True})
        return 400, "text/plain", f"Unknown action: {action}"

    def extensions(self, body: dict[str, Any]) -> list[str]:
        point = str(body.get("extension_point") or "")
        patterns = body.get("filters") or ["*"]
        folder = self.host.plugin_dir / "extensions" / "webui" / point
        found = []
        if folder.is_dir() and "/" not in point and ".." not in point:
            for file in sorted(folder.iterdir()):
                if any(fnmatch.fnmatch(file.name, p) for p in patterns):
                    found.append(f"usr/plugins/{PLUGIN}/extensions/webui/{point}/{file.name}")
        return found

    def static(self, path: str) -> Path | None:
        for prefix in (f"/plugins/{PLUGIN}/", f"/usr/plugins/{PLUGIN}/"):
            if path.startswith(prefix):
                relative = path[len(prefix) :]
                if not relative.startswith(("webui/", "extensions/webui/")) or ".." in relative:
                    return None
                return self.host.plugin_dir / relative
        if path in {"/chat.html", "/settings.html"}:
            return STUBS / path.lstrip("/")
        if path == "/vendor/alpine.js":
            return ALPINE
        if path.startswith(("/js/", "/components/")) and ".." not in path:
            return STUBS / path.lstrip("/")
        return None

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # quiet
                return

            def _send(self, status: int, mimetype: str, body: str | bytes) -> None:
                data = body.encode() if isinstance(body, str) else body
                self.send_response(status)
                self.send_header("Content-Type", mimetype)
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                url = urlparse(self.path)
                if url.path == "/favicon.ico":
                    self._send(204, "image/x-icon", b"")
                    return
                file = server.static(url.path)
                if file is None or not file.is_file():
                    self._send(HTTPStatus.NOT_FOUND, "text/plain", "not found")
                    return
                mimetype = TYPES.get(file.suffix, "application/octet-stream")
                self._send(200, mimetype, file.read_bytes())

            def do_POST(self) -> None:
                url = urlparse(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw) if raw else {}
                except ValueError:
                    self._send(400, "text/plain", "bad JSON")
                    return
                if self.headers.get("X-CSRF-Token") != "test-csrf-token":
                    self._send(403, "text/plain", "CSRF token missing or invalid")
                    return
                if url.path == "/api/load_webui_extensions":
                    payload = {"extensions": server.extensions(body)}
                    self._send(200, "application/json", json.dumps(payload))
                    return
                if url.path == "/api/plugins":
                    self._send(*server.plugins_api(body))
                    return
                prefix = f"/api/plugins/{PLUGIN}/"
                if url.path.startswith(prefix):
                    status, mimetype, text = server.plugin_api(url.path[len(prefix) :], body)
                    self._send(status, mimetype, text)
                    return
                self._send(404, "text/plain", "not found")

        return Handler
