"""litellm test helpers (no tests here): its real exceptions, and a spy on acompletion."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from agent_routing._litellm import litellm_module
from agent_routing.capture import METADATA_KEY


def _response(status: int, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(
        status, headers=headers or {}, request=httpx.Request("POST", "https://example.invalid")
    )


def litellm_error(name: str, message: str = "provider said no", **kwargs: Any) -> Exception:
    """An instance of litellm 1.79.3's exception class `name`, built as litellm builds it."""
    exceptions = litellm_module().exceptions
    cls = getattr(exceptions, name)
    if name == "Timeout":
        return cls(message=message, model="gpt-4o-mini", llm_provider="openai", **kwargs)
    if name == "APIConnectionError":
        return cls(message=message, llm_provider="openai", model="gpt-4o-mini")
    if name == "BudgetExceededError":
        return cls(current_cost=2.0, max_budget=1.0)
    if name == "APIError":
        return cls(
            status_code=kwargs.get("status", 503),
            message=message,
            llm_provider="openai",
            model="gpt-4o-mini",
        )
    status = kwargs.pop("status", 400)
    return cls(
        message=message,
        model="gpt-4o-mini",
        llm_provider="openai",
        response=_response(status, kwargs.pop("headers", None)),
    )


class LitellmSpy:
    """Wraps litellm.acompletion: records every call's kwargs, fails models as scripted."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, failures: dict[str, Exception]) -> None:
        self.litellm = litellm_module()
        self.real = self.litellm.acompletion
        self.failures = failures
        self.calls: list[dict[str, Any]] = []
        monkeypatch.setattr(self.litellm, "acompletion", self)

    async def __call__(self, **kwargs: Any) -> Any:
        self.calls.append(kwargs)
        mock = self.failures.get(kwargs["model"], f"answer from {kwargs['model']}")
        return await self.real(**{**kwargs, "mock_response": mock})

    def attribution(self, index: int) -> dict[str, Any]:
        return dict(self.calls[index]["metadata"][METADATA_KEY])
