"""Things a user should hear about, published by the core and delivered by an adapter.

The core publishes an :class:`Event` where it happens (a budget alert fires, a budget
blocks or downgrades a call, a fallback hop, a long wait for a cooling model, an unpriced
model chosen); adapters subscribe (Agent Zero's notifications: `host/_notify.py`). Publishing
never raises and costs nothing without subscribers; a failing subscriber is logged and the
others still get the event.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

logger = logging.getLogger("agent_routing.events")

EventKind = Literal[
    "budget_alert", "budget_block", "downgrade", "fallback", "cooldown_wait", "unpriced"
]


@dataclass(frozen=True, slots=True)
class Event:
    """One event. `key` identifies it for de-duplication (e.g. budget, period, threshold);
    `seconds` is the wait of a `cooldown_wait`."""

    kind: EventKind
    message: str
    conversation_id: str | None = None
    model: str | None = None
    key: str = ""
    seconds: float | None = None


Listener = Callable[[Event], None]
_lock = threading.Lock()
_listeners: list[Listener] = []


def subscribe(listener: Listener) -> Callable[[], None]:
    """Deliver every later event to `listener`; returns the function that unsubscribes it."""
    with _lock:
        _listeners.append(listener)

    def unsubscribe() -> None:
        with _lock:
            if listener in _listeners:
                _listeners.remove(listener)

    return unsubscribe


def publish(event: Event) -> None:
    """Hand `event` to every subscriber; never raises."""
    with _lock:
        listeners = list(_listeners)
    for listener in listeners:
        try:
            listener(event)
        except Exception:
            logger.exception("event listener failed for %s", event.kind)
