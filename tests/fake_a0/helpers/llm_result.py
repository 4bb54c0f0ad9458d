"""LLMResult: what v2's `unified_turn` returns (the fields agent-zero-host-v2.md §2 lists)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class LLMResult:
    response: str = ""
    reasoning: str = ""
    response_id: str = ""
    previous_response_id: str = ""
    input_items: list[dict[str, Any]] = field(default_factory=list)
    output_items: list[Any] = field(default_factory=list)
    provider_model_key: str = ""
    mode: str = "responses"  # or "chat_completions"
    state: str = "provider"
    usage: dict[str, Any] = field(default_factory=dict)  # the provider's own, never made up
    raw: dict[str, Any] = field(default_factory=dict)
    capability: dict[str, Any] = field(default_factory=dict)

    def metadata(self) -> dict[str, Any]:
        return {
            "response_id": self.response_id,
            "provider_model_key": self.provider_model_key,
            "mode": self.mode,
            "usage": dict(self.usage),
        }
