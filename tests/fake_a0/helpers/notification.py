"""Host notifications (toasts): `NotificationManager.send_notification(...)` as in v1.7/v2.

An item with the same `id` as an earlier one replaces it; the UI shows one toast per
`group` at a time. `SENT` keeps every call in order so tests can read what a user saw.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from enum import Enum
from typing import Any


class NotificationType(Enum):
    INFO = "info"
    SUCCESS = "success"
    WARNING = "warning"
    ERROR = "error"
    PROGRESS = "progress"


class NotificationPriority(Enum):
    NORMAL = 10
    HIGH = 20


@dataclass
class NotificationItem:
    no: int
    type: NotificationType
    priority: NotificationPriority
    message: str
    title: str
    detail: str
    display_time: int
    group: str
    id: str


class NotificationManager:
    def __init__(self) -> None:
        self._lock = threading.RLock()
        self.notifications: list[NotificationItem] = []

    @staticmethod
    def send_notification(
        type: NotificationType,
        priority: NotificationPriority,
        message: str,
        title: str = "",
        detail: str = "",
        display_time: int = 3,
        group: str = "",
        id: str = "",
    ) -> NotificationItem:
        return MANAGER.add_notification(
            type, priority, message, title, detail, display_time, group, id
        )

    def add_notification(
        self,
        type: Any,
        priority: Any,
        message: str,
        title: str = "",
        detail: str = "",
        display_time: int = 3,
        group: str = "",
        id: str = "",
    ) -> NotificationItem:
        with self._lock:
            item = NotificationItem(
                len(self.notifications),
                NotificationType(type),
                NotificationPriority(priority),
                message,
                title,
                detail,
                display_time,
                group,
                id,
            )
            existing = next((n for n in self.notifications if id and n.id == id), None)
            if existing is not None:
                item.no = existing.no
                self.notifications[existing.no] = item
            else:
                self.notifications.append(item)
            SENT.append(item)
            return item


MANAGER = NotificationManager()
SENT: list[NotificationItem] = []
