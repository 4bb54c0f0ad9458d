"""Chat persistence (§8.4): `usr/chats/<ctxid>/chat.json`; `_` keys and non-JSON values dropped."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from helpers.files import BASE_DIR


def _serializable(data: dict[str, Any]) -> dict[str, Any]:
    kept: dict[str, Any] = {}
    for key, value in data.items():
        if key.startswith("_"):
            continue
        try:
            json.dumps(value)
        except (TypeError, ValueError):
            continue
        kept[key] = value
    return kept


def chat_path(ctxid: str) -> Path:
    return BASE_DIR / "usr" / "chats" / ctxid / "chat.json"


def save_tmp_chat(context: Any) -> None:
    if context.type.value == "background":
        return
    agents = []
    agent = context.agent0
    while agent is not None:
        agents.append(
            {
                "number": agent.number,
                "data": _serializable(agent.data),
                "history": agent.history.serialize(),
            }
        )
        agent = agent.data.get("_subordinate")
    payload = {
        "id": context.id,
        "name": context.name,
        "type": context.type.value,
        "data": _serializable(context.data),
        "output_data": _serializable(context.output_data),
        "agents": agents,
    }
    path = chat_path(context.id)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload), encoding="utf-8")


def load_tmp_chat(ctxid: str) -> Any:
    """Rebuild a context: config from initialize_agent(), agents first, data after."""
    from agent import Agent, AgentContext, AgentContextType
    from initialize import initialize_agent

    payload = json.loads(chat_path(ctxid).read_text(encoding="utf-8"))
    config = initialize_agent()
    context = AgentContext(
        config=config,
        id=payload["id"],
        name=payload.get("name"),
        type=AgentContextType(payload["type"]),
    )
    context.data.update(payload["data"])
    context.output_data.update(payload["output_data"])
    previous = None
    for saved in payload["agents"]:
        agent = (
            context.agent0
            if saved["number"] == 0
            else Agent(saved["number"], initialize_agent(), context)
        )
        agent.data.update(saved["data"])  # restored AFTER construction (agent_init already fired)
        if previous is not None:
            previous.data["_subordinate"] = agent
            agent.data["_superior"] = previous
        for topic in saved["history"]:
            for message in topic:
                agent.history.add_message(
                    message["ai"], message["content"], message["tokens"], message["id"]
                )
            agent.history.new_topic()
        previous = agent
    return context
