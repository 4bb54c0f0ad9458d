"""Core events as Agent Zero notifications (toasts), grouped per chat so they do not spam.

:func:`install` subscribes to :mod:`agent_routing.events` once per process (the runtime
calls it). Each event becomes one `NotificationManager.send_notification(type, priority,
message, title, detail, display_time, group, id)` call (the same in v1.7 and v2):

- `group` is `agent_routing:<chat id>` (or `agent_routing:<model>` without a chat): the UI
  shows one toast per group at a time, so a chat's newer toast replaces its older one;
- `id` is the event's identity (a budget's period and threshold, a chat's block, a model):
  a repeat updates the same notification instead of adding one;
- the same (kind, chat, model) is sent at most once per :data:`QUIET_S` seconds (an
  unpriced model once per :data:`UNPRICED_QUIET_S`, whatever the chat); budget alerts fire
  once per budget, period and threshold anyway;
- a cooldown wait is only worth a toast from :data:`LONG_WAIT_S` seconds.

A host without `helpers.notification` (or any failure sending) only logs: a notification
must never break a call. The budget stop itself is also written into the chat by
:mod:`.failures`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from agent_routing import events

logger = logging.getLogger("agent_routing.host")

QUIET_S = 60.0
LONG_WAIT_S = 10.0
UNPRICED_QUIET_S = 3600.0
GROUP_PREFIX = "agent_routing"

# kind -> (notification type, high priority, title, seconds shown)
_STYLE: dict[str, tuple[str, bool, str, int]] = {
    "budget_alert": ("warning", True, "Budget alert", 8),
    "budget_block": ("error", True, "Budget limit reached", 12),
    "downgrade": ("info", False, "Cheaper model (budget)", 5),
    "fallback": ("warning", False, "Model failed, falling back", 5),
    "cooldown_wait": ("info", False, "Waiting for a model", 6),
    "unpriced": ("warning", False, "Unpriced model", 8),
}

_lock = threading.Lock()
_subscription: list[Callable[[], None]] = []  # the unsubscribe function, once installed
_last_sent: dict[tuple[str, str, str], float] = {}
_warned_missing = [False]


def install() -> None:
    """Subscribe the notifier (idempotent)."""
    with _lock:
        if not _subscription:
            _subscription.append(events.subscribe(notify))


def uninstall() -> None:
    """Unsubscribe and forget the rate-limit memory (tests)."""
    with _lock:
        while _subscription:
            _subscription.pop()()
        _last_sent.clear()


def group_of(event: events.Event) -> str:
    """The toast group: one per chat (or per model for events outside a chat)."""
    return f"{GROUP_PREFIX}:{event.conversation_id or event.model or 'global'}"


def _identity(event: events.Event) -> str:
    scope = event.key or event.model or ""
    return f"{GROUP_PREFIX}:{event.kind}:{event.conversation_id or '-'}:{scope}"


def _due(event: events.Event, now: float) -> bool:
    """False when the same kind for the same chat and model was sent within QUIET_S."""
    if event.kind == "cooldown_wait" and (event.seconds or 0.0) < LONG_WAIT_S:
        return False
    if event.kind == "budget_alert":
        return True  # once per budget, period and threshold already
    per_model = event.kind == "unpriced"  # one toast per model, not per chat
    chat = "" if per_model else event.conversation_id or ""
    slot = (event.kind, chat, event.model or event.key)
    quiet = UNPRICED_QUIET_S if per_model else QUIET_S
    with _lock:
        last = _last_sent.get(slot)
        if last is not None and now - last < quiet:
            return False
        _last_sent[slot] = now
    return True


def notify(event: events.Event) -> None:
    """Send `event` as a host notification when due; never raises."""
    if not _due(event, time.monotonic()):
        return
    kind, high, title, seconds = _STYLE[event.kind]
    try:
        module = _notification_module()
        if module is None:
            return
        module.NotificationManager.send_notification(
            module.NotificationType(kind),
            module.NotificationPriority.HIGH if high else module.NotificationPriority.NORMAL,
            event.message,
            title,
            "",
            seconds,
            group_of(event),
            _identity(event),
        )
    except Exception:
        logger.exception("agent-routing: notification not sent: %s", event.message)


def _notification_module() -> Any:
    from agent_routing.host.layout import host_module

    try:
        return host_module("helpers.notification")
    except ImportError:
        if not _warned_missing[0]:
            _warned_missing[0] = True
            logger.info("agent-routing: this host has no notifications; events are logged only")
        return None
