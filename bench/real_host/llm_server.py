"""A scripted, offline OpenAI-compatible server on 127.0.0.1 for one real Agent Zero turn.

Answers `POST /v1/chat/completions` (plain and streaming SSE, with a usage chunk when asked
by `stream_options.include_usage`, as OpenAI does),
`POST /v1/responses` (plain and streaming events, usage in `response.completed`; a
`previous_response_id` continues the stored conversation) and `POST /v1/embeddings`. With
`--no-responses`, `/v1/responses` answers 404 and the host falls back to Chat Completions.

Main-agent calls (their system prompt asks for `tool_name`) are scripted: by default the
first step of a task calls the tool in `SCRIPT[0]`, the next ones `response`; with
`--script NAME` the main calls get `SCRIPTS[NAME]` in order. Every other call (utility: chat
title, memory queries) gets a short plain answer. Each request is appended to the log file
as one JSON line, so a run can compare what the host sent with what the ledger recorded.
Usage reports cached prompt tokens as OpenAI's automatic prompt caching would: a system
prompt of 1,024+ tokens sent again to the same model counts as cached in 128-token blocks.

Usage: python llm_server.py PORT LOGFILE [--no-responses] [--rate-limit MODEL]
       [--script subordinate|parallel|parallel-tools]   (--rate-limit: MODEL gets HTTP 429)
(prints "ready" when listening; binds 127.0.0.1 only).
"""

from __future__ import annotations

import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

SCRIPT: list[dict[str, Any]] = [
    {"tool_name": "switch_model", "tool_args": {"tier": "strong", "reason": "real-host check"}},
    {"tool_name": "response", "tool_args": {"text": "Done: 2 + 2 = 4."}},
]
SCRIPTS: dict[str, list[dict[str, Any]]] = {  # --script NAME: main calls answered in order
    "subordinate": [
        {
            "tool_name": "call_subordinate",
            "tool_args": {"message": "Compute 2 + 2.", "reset": True},
        },
        {"tool_name": "response", "tool_args": {"text": "4"}},  # agent 1
        {"tool_name": "response", "tool_args": {"text": "The subordinate says 4."}},  # agent 0
    ],
    "parallel": [  # v2: two subordinates in parallel jobs (isolated child chats)
        {
            "tool_name": "parallel",
            "tool_args": {
                "tool_calls": [
                    {"tool_name": "call_subordinate", "tool_args": {"message": "2 + 2?"}},
                    {"tool_name": "call_subordinate", "tool_args": {"message": "3 + 3?"}},
                ],
                "wait": True,
            },
        },
        {"tool_name": "response", "tool_args": {"text": "a job's answer"}},
        {"tool_name": "response", "tool_args": {"text": "a job's answer"}},
        {"tool_name": "response", "tool_args": {"text": "Both jobs answered."}},
    ],
    "parallel-tools": [  # v2: two memory_load tool jobs (background worker contexts)
        {
            "tool_name": "parallel",
            "tool_args": {
                "tool_calls": [
                    {"tool_name": "memory_load", "tool_args": {"query": "two plus two"}},
                    {"tool_name": "memory_load", "tool_args": {"query": "three plus three"}},
                ],
                "wait": True,
            },
        },
        {"tool_name": "response", "tool_args": {"text": "Both lookups done."}},
    ],
}
_LOCK = threading.Lock()
_ORDERED: list[list[dict[str, Any]]] = []  # the --script in use, consumed one main call at a time
_MAIN_RESPONSES: dict[str, int] = {}  # stored main-call response id -> tool results seen so far


def _text_of(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, list):
        return " ".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return str(content or "")


def _reply_for(body: dict[str, Any]) -> str:
    messages = body.get("messages") or []
    system = " ".join(_text_of(m) for m in messages if m.get("role") == "system")
    if '"tool_name"' not in system and "tool_name:" not in system:
        return "Offline check"  # utility call: titles, memory queries, summaries
    tool_results = sum(_text_of(m).count('"tool_result"') for m in messages)
    return _step_json(tool_results)


def _step_json(tool_results: int) -> str:
    """The next main-call reply: in order with --script, else by the tool results seen."""
    with _LOCK:
        if _ORDERED:
            script = _ORDERED[0]
            step = script.pop(0) if len(script) > 1 else script[0]
        else:
            step = SCRIPT[min(tool_results, len(SCRIPT) - 1)]
    return json.dumps({"thoughts": ["scripted"], "headline": "scripted", **step})


def _responses_texts(body: dict[str, Any]) -> tuple[str, str]:
    """(system text, all other text) of a Responses API request."""
    system, other = [str(body.get("instructions") or "")], []
    items = body.get("input")
    for item in items if isinstance(items, list) else [{"role": "user", "content": items}]:
        if not isinstance(item, dict):
            continue
        text = _text_of(item) if "content" in item else str(item.get("output", ""))
        (system if item.get("role") in ("system", "developer") else other).append(text)
    return " ".join(system), " ".join(other)


def _responses_reply(body: dict[str, Any]) -> tuple[str, bool, int]:
    """(reply text, is a main call, tool results seen) for a Responses API request.

    A `previous_response_id` this server did not answer (a chat resumed in a new run) is a
    main call continuing a finished script: it gets the script's last step.
    """
    system, other = _responses_texts(body)
    previous = body.get("previous_response_id")
    earlier = _MAIN_RESPONSES.get(str(previous), len(SCRIPT) if previous else 0)
    seen = other.count('"tool_result"') + earlier
    main = '"tool_name"' in system or "tool_name:" in system or bool(previous)
    if not main:
        return "Offline check", False, 0
    return _step_json(seen), True, seen


def _tokens(text: str) -> int:
    return max(1, len(text) // 4)


_SEEN_PREFIXES: set[str] = set()  # system prompts already sent (what a provider would cache)


def _cached_tokens(model: str, system: str) -> int:
    """Automatic prompt caching as OpenAI does it: a system prompt of 1,024+ tokens sent
    again to the same model is served from cache in whole 128-token blocks."""
    tokens = _tokens(system) if system else 0
    key = f"{model}\n{system}"
    with _LOCK:
        seen = key in _SEEN_PREFIXES
        _SEEN_PREFIXES.add(key)
    return (tokens // 128) * 128 if seen and tokens >= 1024 else 0


class Handler(BaseHTTPRequestHandler):
    log_path = ""
    no_responses = False
    rate_limited: frozenset[str] = frozenset()  # models answered with HTTP 429

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _send_json(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path.rstrip("/").endswith("/models"):
            self._send_json(200, {"object": "list", "data": []})
        else:
            self._send_json(404, {"error": {"message": "not found"}})

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}")
        with _LOCK, Path(self.log_path).open("a", encoding="utf-8") as log:
            log.write(json.dumps({"path": self.path, "time": time.time(), "body": body}) + "\n")
        if body.get("model") in Handler.rate_limited:
            error = {"message": "Rate limit reached (scripted)", "type": "rate_limit_error"}
            self._send_json(429, {"error": {**error, "code": "rate_limit_exceeded"}})
            return
        if self.path.endswith("/embeddings"):
            inputs = body.get("input")
            items = inputs if isinstance(inputs, list) else [inputs]
            data = [
                {
                    "object": "embedding",
                    "index": i,
                    "embedding": [0.01 * ((i + k) % 7) for k in range(64)],
                }
                for i, _ in enumerate(items)
            ]
            used = sum(_tokens(str(x)) for x in items)
            self._send_json(
                200,
                {
                    "object": "list",
                    "data": data,
                    "model": body.get("model"),
                    "usage": {"prompt_tokens": used, "total_tokens": used},
                },
            )
            return
        if self.path.endswith("/responses") and not Handler.no_responses:
            self._responses(body)
            return
        if not self.path.endswith("/chat/completions"):
            self._send_json(
                404,
                {
                    "error": {
                        "message": f"{self.path} is not supported here",
                        "type": "invalid_request_error",
                    }
                },
            )
            return
        text = _reply_for(body)
        messages = body.get("messages") or []
        prompt = sum(_tokens(_text_of(m)) for m in messages)
        system = " ".join(_text_of(m) for m in messages if m.get("role") == "system")
        usage = {
            "prompt_tokens": prompt,
            "completion_tokens": _tokens(text),
            "total_tokens": prompt + _tokens(text),
            "prompt_tokens_details": {
                "cached_tokens": _cached_tokens(str(body.get("model")), system)
            },
        }
        base = {
            "id": f"chatcmpl-{time.time_ns()}",
            "created": int(time.time()),
            "model": body.get("model"),
        }
        if not body.get("stream"):
            self._send_json(
                200,
                {
                    **base,
                    "object": "chat.completion",
                    "usage": usage,
                    "choices": [
                        {
                            "index": 0,
                            "finish_reason": "stop",
                            "message": {"role": "assistant", "content": text},
                        }
                    ],
                },
            )
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        pieces = [text[i : i + 16] for i in range(0, len(text), 16)]
        try:
            for i, piece in enumerate(pieces):
                delta = {"content": piece, **({"role": "assistant"} if i == 0 else {})}
                chunk = {
                    **base,
                    "object": "chat.completion.chunk",
                    "choices": [{"index": 0, "delta": delta, "finish_reason": None}],
                }
                self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
            end = {
                **base,
                "object": "chat.completion.chunk",
                "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
            }
            self.wfile.write(f"data: {json.dumps(end)}\n\n".encode())
            if (body.get("stream_options") or {}).get("include_usage"):
                tail = {**base, "object": "chat.completion.chunk", "choices": [], "usage": usage}
                self.wfile.write(f"data: {json.dumps(tail)}\n\n".encode())
            self.wfile.write(b"data: [DONE]\n\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the host stops reading at the first complete tool call

    def _responses(self, body: dict[str, Any]) -> None:
        text, main, seen = _responses_reply(body)
        rid, mid = f"resp_{time.time_ns()}", f"msg_{time.time_ns()}"
        if main:
            _MAIN_RESPONSES[rid] = seen
        system, other = _responses_texts(body)
        prompt = _tokens(system) + _tokens(other)
        usage = {
            "input_tokens": prompt,
            "output_tokens": _tokens(text),
            "total_tokens": prompt + _tokens(text),
            "input_tokens_details": {
                "cached_tokens": _cached_tokens(str(body.get("model")), system)
            },
            "output_tokens_details": {"reasoning_tokens": 0},
        }
        item = {
            "id": mid,
            "type": "message",
            "role": "assistant",
            "status": "completed",
            "content": [{"type": "output_text", "text": text, "annotations": []}],
        }
        done = {
            "id": rid,
            "object": "response",
            "created_at": int(time.time()),
            "status": "completed",
            "model": body.get("model"),
            "output": [item],
            "usage": usage,
            "error": None,
            "incomplete_details": None,
            "instructions": None,
            "tools": [],
            "parallel_tool_calls": True,
            "tool_choice": "auto",
            "previous_response_id": body.get("previous_response_id"),
        }
        if not body.get("stream"):
            self._send_json(200, done)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        started = {**done, "status": "in_progress", "output": [], "usage": None}
        events: list[dict[str, Any]] = [
            {"type": "response.created", "response": started},
            {
                "type": "response.output_item.added",
                "output_index": 0,
                "item": {**item, "status": "in_progress", "content": []},
            },
            {
                "type": "response.content_part.added",
                "item_id": mid,
                "output_index": 0,
                "content_index": 0,
                "part": {"type": "output_text", "text": "", "annotations": []},
            },
            *(
                {
                    "type": "response.output_text.delta",
                    "item_id": mid,
                    "output_index": 0,
                    "content_index": 0,
                    "delta": text[i : i + 16],
                }
                for i in range(0, len(text), 16)
            ),
            {
                "type": "response.output_text.done",
                "item_id": mid,
                "output_index": 0,
                "content_index": 0,
                "text": text,
            },
            {"type": "response.output_item.done", "output_index": 0, "item": item},
            {"type": "response.completed", "response": done},
        ]
        try:
            for n, event in enumerate(events):
                data = json.dumps({**event, "sequence_number": n})
                self.wfile.write(f"event: {event['type']}\ndata: {data}\n\n".encode())
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the host stops reading at the first complete tool call


def main() -> None:
    port, log_path = int(sys.argv[1]), sys.argv[2]
    Handler.log_path = log_path
    Handler.no_responses = "--no-responses" in sys.argv[3:]
    if "--rate-limit" in sys.argv[3:]:
        Handler.rate_limited = frozenset({sys.argv[sys.argv.index("--rate-limit") + 1]})
    if "--script" in sys.argv[3:]:
        _ORDERED.append(list(SCRIPTS[sys.argv[sys.argv.index("--script") + 1]]))
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    print("ready", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
