"""Builds the host's model wrappers from `_model_config` (plus the per-chat override)."""

from __future__ import annotations

from typing import Any

import models
from helpers.plugins import get_plugin_config


def _config(agent: Any) -> dict[str, Any]:
    return get_plugin_config("_model_config", agent=agent) or {}


def is_chat_override_allowed(agent: Any) -> bool:
    return bool(_config(agent).get("allow_chat_override", False))


def get_chat_model_config(agent: Any) -> dict[str, Any]:
    section = dict(_config(agent).get("chat_model") or {})
    override = agent.context.get_data("chat_model_override") if agent is not None else None
    if override and is_chat_override_allowed(agent):
        chosen = override.get("chat", override) if isinstance(override, dict) else None
        if isinstance(chosen, dict) and (chosen.get("provider") or chosen.get("name")):
            section = {**section, **chosen}
    return section


def get_utility_model_config(agent: Any) -> dict[str, Any]:
    return dict(_config(agent).get("utility_model") or {})


def build_model_config(cfg: dict[str, Any], model_type: models.ModelType) -> models.ModelConfig:
    return models.ModelConfig(
        type=model_type,
        provider=cfg.get("provider", ""),
        name=cfg.get("name", ""),
        api_base=cfg.get("api_base", ""),
        ctx_length=int(cfg.get("ctx_length", 0)),
        limit_requests=int(cfg.get("rl_requests", 0)),
        limit_input=int(cfg.get("rl_input", 0)),
        limit_output=int(cfg.get("rl_output", 0)),
        vision=bool(cfg.get("vision", False)),
        kwargs=dict(cfg.get("kwargs") or {}),
    )


def _chat(cfg: dict[str, Any]) -> models.LiteLLMChatWrapper:
    mc = build_model_config(cfg, models.ModelType.CHAT)
    return models.get_chat_model(mc.provider, mc.name, model_config=mc, **mc.build_kwargs())


def build_chat_model(agent: Any) -> models.LiteLLMChatWrapper:
    return _chat(get_chat_model_config(agent))


def build_utility_model(agent: Any) -> models.LiteLLMChatWrapper:
    return _chat(get_utility_model_config(agent))


def build_embedding_model(agent: Any) -> models.LiteLLMEmbeddingWrapper:
    mc = build_model_config(
        dict(_config(agent).get("embedding_model") or {}), models.ModelType.EMBEDDING
    )
    return models.get_embedding_model(mc.provider, mc.name, model_config=mc, **mc.build_kwargs())
