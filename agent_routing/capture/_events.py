"""The raw material hooks hand to the capture worker: small, cheap to build, never parsed.

Hooks run on the agent's event loop (or litellm's logging threads), so they only copy
references and a timestamp into one of these and put it on a queue; the worker parses
metadata, counts tokens, prices and writes. Every event names its call by `key` (the
call id injected with `capture_metadata`, else litellm's `litellm_call_id`) and, when
litellm made it, by `litellm_call_id` too (one per attempt).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Literal

from agent_routing.records import Usage


@dataclass(slots=True)
class Opened:
    """A call started: litellm's pre-call hook, or `begin_call` by a self-reporting caller."""

    key: str
    litellm_call_id: str | None
    model: str
    provider: str | None
    messages: list[Any] | None
    fields: Any  # raw attribution mapping from metadata, or an Attribution
    stream: bool | None
    at: float
    from_litellm: bool
    tokens_saved: int | None = None  # prompt compression's savings (`begin_call` only)
    usd_saved: float | None = None


@dataclass(slots=True)
class StreamDelta:
    """Text of one streamed chunk (litellm calls its per-chunk hook for sync streams only)."""

    key: str
    litellm_call_id: str | None
    text: str


@dataclass(slots=True)
class Succeeded:
    """litellm's success callback: the response, with provider usage when it has any."""

    key: str
    litellm_call_id: str | None
    model: str
    provider: str | None
    fields: Any
    response: Any
    start: Any  # datetime or float, as litellm passed it
    end: Any
    call_type: str | None
    stream: bool | None
    litellm_cost: Any


@dataclass(slots=True)
class Failed:
    """litellm's failure callback."""

    key: str
    litellm_call_id: str | None
    model: str
    provider: str | None
    fields: Any
    error: BaseException | None
    start: Any
    end: Any


@dataclass(slots=True)
class Reported:
    """The caller's own end-of-call report (`end_call`)."""

    key: str
    response_text: str | None
    reasoning_text: str | None
    error: BaseException | None
    usage: Usage | None
    at: float
    cost: float | None = None  # the host's price for the call (`LLMResult.usage["cost"]`)


@dataclass(slots=True)
class Barrier:
    """Asks the worker to act once every earlier event is processed, then signals `done`."""

    action: Literal["flush", "sweep", "close"]
    now: float | None = None
    result: int = 0
    done: threading.Event = field(default_factory=threading.Event)


Event = Opened | StreamDelta | Succeeded | Failed | Reported | Barrier
