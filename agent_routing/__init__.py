"""agent-routing: cost tracking, budgets, model routing and compression for Agent Zero.

Importing the package does no work: litellm, tiktoken and scikit-learn load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["Settings", "enable_capture", "load_settings"]
__version__ = "0.1.0"

if TYPE_CHECKING:
    from agent_routing.capture import enable_capture
    from agent_routing.config import Settings, load_settings


def __getattr__(name: str) -> Any:
    if name == "enable_capture":
        from agent_routing.capture import enable_capture

        return enable_capture
    if name in {"Settings", "load_settings"}:
        from agent_routing import config

        return getattr(config, name)
    raise AttributeError(f"module 'agent_routing' has no attribute {name!r}")
