"""Run one real Agent Zero turn offline with the agent-routing plugin installed.

Not a test and not run in CI: it needs an Agent Zero checkout with its own venv (see
README.md beside this file). It starts `llm_server.py` on 127.0.0.1, points Agent Zero's
chat, utility and embedding models at it (the host's own `_model_config` plugin config),
drives one chat through the host's `AgentContext.communicate`, then prints the ledger rows
of that chat and the server's request count. Nothing is downloaded; no provider is called.

    A0=/path/to/agent-zero
    $A0/.venv/bin/python bench/real_host/run_turn.py --a0 $A0 --db /tmp/ledger.db
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _write_json(path: Path, data: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")


def _model_config(api_base: str, api_mode: str) -> dict[str, object]:
    kwargs = {"a0_api_mode": api_mode}
    slot = {
        "provider": "openai",
        "api_base": api_base,
        "rl_requests": 0,
        "rl_input": 0,
        "rl_output": 0,
    }
    return {
        "allow_chat_override": True,
        "chat_model": {
            **slot,
            "name": "gpt-4.1",
            "ctx_length": 128000,
            "ctx_history": 0.7,
            "vision": False,
            "max_embeds": 10,
            "kwargs": kwargs,
        },
        "utility_model": {
            **slot,
            "name": "gpt-4.1-mini",
            "ctx_length": 128000,
            "ctx_input": 0.7,
            "kwargs": kwargs,
        },
        "embedding_model": {
            "provider": "openai",
            "name": "text-embedding-3-small",
            "api_base": api_base,
            "rl_requests": 0,
            "rl_input": 0,
            "kwargs": {},
        },
    }


def _wait_for_background_calls(db_path: Path, limit_s: float = 30.0) -> None:
    """Let the host's background calls (memorisation after the turn) finish before stopping."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        time.sleep(2.0)
        if not db_path.exists():
            return
        with sqlite3.connect(db_path) as db:
            if not db.execute("SELECT COUNT(*) FROM calls WHERE outcome = 'pending'").fetchone()[0]:
                return


def _check_api(context_id: str) -> None:
    """Call the plugin's cost API through the host's own Flask app, CSRF and routing included."""
    from helpers.ui_server import UiServerRuntime

    server_runtime = UiServerRuntime.create()
    server_runtime.register_http_routes()
    server_runtime.register_transport_handlers()
    client = server_runtime.webapp.test_client()
    token = client.get("/api/csrf_token", headers={"Origin": "http://localhost"}).get_json()[
        "token"
    ]
    headers = {"X-CSRF-Token": token}
    for url in (
        "/api/plugins/agent_routing/costs?by=model",
        f"/api/plugins/agent_routing/chat_costs?context={context_id}",
        "/api/plugins/agent_routing/costs?by=nonsense",
        "/api/plugins/agent_routing/budget",
    ):
        reply = client.get(url, headers=headers)
        print(f"API GET {url}: {reply.status_code} {reply.get_data(as_text=True)[:400]}")
    for body in (
        {"scope": "monthly", "limit_usd": 50, "enforcement": "warn"},
        {"scope": "monthly", "limit_usd": -1, "enforcement": "warn"},  # refused: 400
    ):
        reply = client.post("/api/plugins/agent_routing/budget", json=body, headers=headers)
        print(f"API POST budget {body}: {reply.status_code} {reply.get_data(as_text=True)[:300]}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--a0", required=True, type=Path, help="Agent Zero checkout")
    parser.add_argument("--db", required=True, type=Path, help="ledger file (AGENT_ROUTING_DB)")
    parser.add_argument("--message", default="What is 2 + 2? Use the tools as needed.")
    parser.add_argument(
        "--api-mode", default="chat_completions", choices=["chat_completions", "responses"]
    )
    parser.add_argument(
        "--plugin-config",
        type=Path,
        help="JSON written to usr/plugins/agent_routing/config.json (API_BASE: the server)",
    )
    parser.add_argument("--timeout", type=float, default=180.0)
    parser.add_argument(
        "--script",
        choices=["subordinate", "parallel", "parallel-tools"],
        help="llm_server.py's scripted main calls",
    )
    parser.add_argument(
        "--no-responses", action="store_true", help="the server refuses /v1/responses (404)"
    )
    parser.add_argument("--rate-limit", metavar="MODEL", help="the server answers MODEL with 429")
    parser.add_argument("--resume", metavar="CHAT_ID", help="continue a chat saved by a run")
    args = parser.parse_args()

    a0 = args.a0.resolve()
    port = _free_port()
    api_base = f"http://127.0.0.1:{port}/v1"
    log_path = Path(tempfile.mkstemp(prefix="llm_requests_", suffix=".jsonl")[1])
    server_args = [
        str(port),
        str(log_path),
        *(["--script", args.script] if args.script else []),
        *(["--no-responses"] if args.no_responses else []),
        *(["--rate-limit", args.rate_limit] if args.rate_limit else []),
    ]
    server = subprocess.Popen(
        [sys.executable, str(HERE / "llm_server.py"), *server_args],
        stdout=subprocess.PIPE,
        text=True,
    )
    if server.stdout is None or server.stdout.readline().strip() != "ready":
        raise SystemExit("llm_server.py did not start")

    _write_json(
        a0 / "usr/plugins/_model_config/config.json", _model_config(api_base, args.api_mode)
    )
    plugin_config = a0 / "usr/plugins/agent_routing/config.json"
    if not args.plugin_config:
        plugin_config.unlink(missing_ok=True)  # the shipped defaults (a scratch checkout only)
    else:
        text = args.plugin_config.read_text().replace("API_BASE", api_base)  # the server's address
        _write_json(plugin_config, json.loads(text))
    os.environ.update(
        {
            "AGENT_ROUTING_DB": str(args.db),
            "OPENAI_API_KEY": "sk-offline",
            "API_KEY_OPENAI": "sk-offline",
            "HF_HUB_OFFLINE": "1",
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        }
    )
    os.chdir(a0)
    sys.path.insert(0, str(a0))
    try:
        import initialize  # the host's own modules, from the checkout
        from agent import AgentContext, UserMessage
        from helpers import runtime

        runtime.args.update(dockerized=True)  # run tools in this process, as inside the image

        initialize.initialize_migration()
        if args.resume:  # a chat saved by an earlier run, loaded as after a restart
            from helpers import persist_chat

            persist_chat.load_tmp_chats()
            context = AgentContext.get(args.resume)
            if context is None:
                raise SystemExit(f"no saved chat {args.resume} in {a0}/usr/chats")
        else:
            context = AgentContext(config=initialize.initialize_agent())
        task = context.communicate(UserMessage(message=args.message))
        try:
            answer = task.result_sync(timeout=args.timeout)
        except Exception as exc:  # a budget stop ends the task with the host's HandledException
            answer = f"task ended by {type(exc).__module__}.{type(exc).__name__}: {exc}"
        print(f"context {context.id}\nanswer: {answer!r}")
        for item in context.log.logs:
            if item.type in ("error", "warning"):
                print(f"host log {item.type}: {item.heading!r} {str(item.content)[:300]!r}")
        _wait_for_background_calls(args.db)
        _check_api(context.id)
    finally:
        server.terminate()
        server.wait(timeout=10)
    requests = [json.loads(line) for line in log_path.read_text().splitlines()]
    print(
        f"LLM server requests: {len(requests)}",
        {p: sum(r["path"] == p for r in requests) for p in sorted({r["path"] for r in requests})},
    )
    if not args.db.exists():
        print("no ledger file")
        return 1
    with sqlite3.connect(args.db) as db:
        db.row_factory = sqlite3.Row
        rows = db.execute("SELECT * FROM calls ORDER BY started_at").fetchall()
    print(f"ledger rows: {len(rows)}")
    for row in rows:
        keys = row.keys()
        print(
            {
                k: row[k]
                for k in (
                    "call_kind",
                    "model",
                    "tier",
                    "outcome",
                    "input_tokens",
                    "output_tokens",
                    "cost_usd",
                    "usage_source",
                    "conversation_id",
                    "agent_no",
                    "tool",
                )
                if k in keys
            }
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
