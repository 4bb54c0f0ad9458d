"""A test web server playing Agent Zero's web UI for the plugin's pages (browser tests).

It serves, like the host: the plugin's own files at `/plugins/agent_routing/<path>` and
`/usr/plugins/agent_routing/<path>` (only `webui/` and `extensions/webui/`, from the copy
the installer put into the fake Agent Zero root), `POST /api/load_webui_extensions`,
`POST /api/plugins` (`get_config` / `save_config`, calling the plugin's `hooks.py`
`save_plugin_config` first as the host does) and `/api/plugins/agent_routing/<handler>`
through the fake host's own API dispatch (so the real handler files answer). The host's JS
conventions come from `tests/ui/host/` (see its README), Alpine.js from `tests/ui/.vendor/`.
Two pages stand in for the host's screens: `/chat.html?ctx=<chat id>&anchors=v1|v2` (a chat
with the model strip and the input strip anchors, a toast stack, a modal area) and
`/settings.html` (the plugin settings modal with its Save button).
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
TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css", ".json": "application/json"}

BOOT = """<meta charset="utf-8">
<script type="module">
  import "/js/api.js";
  import "/js/components.js";
  import "/js/modals.js";
  import "/components/notifications/notification-store.js";
  import "/js/extensions.js";
  const params = new URLSearchParams(location.search);
  globalThis.getContext = () => params.get("ctx") || "";
  const alpine = document.createElement("script");
  alpine.src = "/vendor/alpine.js";
  document.head.appendChild(alpine);
</script>
<style>
  body { font-family: sans-serif; margin: 1rem; color: #222; background: #fff; }
  .strip { display: flex; gap: 0.6rem; align-items: center; padding: 0.4rem; border: 1px solid #ddd; }
  .host-ring { font-size: 0.75rem; opacity: 0.7; }
  #toasts { position: fixed; right: 1rem; bottom: 1rem; display: flex; flex-direction: column; gap: 0.3rem; width: 26rem; }
  .toast { border-left: 4px solid #888; background: #f7f7f7; padding: 0.4rem 0.6rem; font-size: 0.8rem; }
  .toast[data-type=error] { border-color: #d2453b; }
  .modal { border: 1px solid #bbb; margin-top: 1rem; padding: 0.8rem; }
</style>
"""

TOASTS = """<div id="toasts" x-data>
  <template x-for="t in ($store.notificationStore ? $store.notificationStore.toasts : [])" :key="t.id">
    <div class="toast" :data-type="t.type" data-testid="toast"><b x-text="t.title"></b>: <span x-text="t.message"></span></div>
  </template>
</div>"""


def chat_page(anchors: str) -> str:
    strip = (
        '<div class="strip" id="model-strip"><span>gpt-4o ▾</span><span class="host-ring">'
        '◔ 41% context</span><x-extension id="model-context-strip-end"></x-extension></div>'
        if anchors == "v2"
        else ""
    )
    return f"""<!doctype html><html><head>{BOOT}<title>chat</title></head><body>
<div id="chat-history">(messages)</div>
{strip}
<div class="strip" id="progress-bar-box"><span>(progress)</span>
  <x-extension id="chat-input-progress-end"></x-extension></div>
<textarea placeholder="Type your message"></textarea>
<div id="modals"></div>
{TOASTS}
</body></html>"""


SETTINGS_PAGE = f"""<!doctype html><html><head>{BOOT}<title>settings</title>
<script type="module">
  import {{ createStore }} from "/js/AlpineStore.js";
  import {{ fetchApi }} from "/js/api.js";
  // the host's plugin settings modal: loads and saves the plugin config via /api/plugins
  createStore("pluginSettings", {{
    settings: {{}}, loaded: false, error: "", saves: 0,
    async load() {{
      const r = await fetchApi("/plugins", {{ method: "POST", headers: {{ "Content-Type": "application/json" }},
        body: JSON.stringify({{ action: "get_config", plugin_name: "{PLUGIN}", project_name: "", agent_profile: "" }}) }});
      const body = await r.json();
      this.settings = body.data || {{}};
      this.loaded = true;
    }},
    async save() {{
      const r = await fetchApi("/plugins", {{ method: "POST", headers: {{ "Content-Type": "application/json" }},
        body: JSON.stringify({{ action: "save_config", plugin_name: "{PLUGIN}", project_name: "", agent_profile: "", settings: this.settings }}) }});
      const body = await r.json().catch(() => ({{}}));
      if (!body.ok) this.error = body.error || "Save failed";
      else {{ this.error = ""; this.saves += 1; }}
    }},
  }});
</script></head><body>
<div class="modal" id="settings-modal" x-data="{{ get context() {{ return $store.pluginSettings; }}, get config() {{ return this.context.settings; }} }}"
     x-init="$el.__pluginSettingsContext = $store.pluginSettings; $store.pluginSettings.load()">
  <template x-if="context.loaded">
    <div class="plugin-settings-body" x-html="'<x-component path=&quot;/plugins/{PLUGIN}/webui/config.html&quot;></x-component>'"></div>
  </template>
  <div class="error" data-testid="save-error" x-text="context.error"></div>
  <div class="saved" data-testid="saves" hidden x-text="context.saves"></div>
  <button id="save" @click="context.save()">Save</button>
</div>
{TOASTS}
</body></html>"""


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
                if url.path == "/chat.html":
                    anchors = "v1" if "anchors=v1" in (url.query or "") else "v2"
                    self._send(200, "text/html", chat_page(anchors))
                    return
                if url.path == "/favicon.ico":
                    self._send(204, "image/x-icon", b"")
                    return
                if url.path == "/settings.html":
                    self._send(200, "text/html", SETTINGS_PAGE)
                    return
                file = server.static(url.path)
                if file is None or not file.is_file():
                    self._send(HTTPStatus.NOT_FOUND, "text/plain", "not found")
                    return
                self._send(200, TYPES.get(file.suffix, "application/octet-stream"), file.read_bytes())

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
