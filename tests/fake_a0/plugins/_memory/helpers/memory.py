"""The memory plugin's store, as in both v1.7 and v2: ONE embedder per process.

It is built with `models.get_embedding_model(...)` directly (not through
`Agent.get_embedding_model`, so no `_functions` hook sees it) the first time any chat
needs memory, probes the vector size and preloads the knowledge files at that moment
(`monologue_start`, before the first `message_loop_start`), and is shared by every chat.
"""

from __future__ import annotations

from typing import Any, ClassVar

import models
from helpers.plugins import get_plugin_config

KNOWLEDGE = ["Agent Zero is an agent framework.", "Costs are counted in USD."]


class Memory:
    embedder: ClassVar[Any] = None
    dimension: ClassVar[int] = 0
    texts: ClassVar[list[str]] = []

    @classmethod
    def get(cls, agent: Any) -> type[Memory]:
        if cls.embedder is None:
            conf = (get_plugin_config("_model_config", agent=agent) or {}).get(
                "embedding_model"
            ) or {}
            cls.embedder = models.get_embedding_model(
                str(conf.get("provider", "openai")),
                str(conf.get("name", "text-embedding-3-small")),
                **dict(conf.get("kwargs") or {}),
            )
            cls.dimension = len(cls.embedder.embed_query("example"))  # dimension probe
            cls.embedder.embed_documents(KNOWLEDGE)  # knowledge preload
            cls.texts = list(KNOWLEDGE)
        return cls

    @classmethod
    def search(cls, agent: Any, query: str) -> list[str]:
        cls.get(agent).embedder.embed_query(query)
        return [text for text in cls.texts if any(w in text.lower() for w in query.lower().split())]
