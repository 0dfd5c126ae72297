"""What the activity app tells the layers above it, which it does not know.

An app that wants to hear plugs a listener in at start-up (realtime does, to wake its hubs
and to reach a user's open dashboards); the recording code calls the functions below. These
are side effects of a write that has already happened: a listener that fails is logged and
never breaks the write, and with no listener plugged nothing happens.
"""

import logging
from collections.abc import Callable
from typing import Any

from activity.models import ActivityLog

logger = logging.getLogger(__name__)


class Listener:
    """Override the events you listen to; the others are ignored."""

    def activity_committed(self, entry: ActivityLog) -> None:
        """The transaction holding this activity row committed."""

    def user_event(self, user_id: int, event: str, data: dict[str, Any]) -> None:
        """Something only this user's own sessions may hear (`notification_created`, say)."""


_listeners: list[Listener] = []


def plug(listener: Listener) -> None:
    if listener not in _listeners:
        _listeners.append(listener)


def unplug(listener: Listener) -> None:
    if listener in _listeners:
        _listeners.remove(listener)


def activity_committed(entry: ActivityLog) -> None:
    for listener in list(_listeners):
        _tell(listener.activity_committed, entry)


def user_event(user_id: int, event: str, data: dict[str, Any]) -> None:
    for listener in list(_listeners):
        _tell(listener.user_event, user_id, event, data)


def _tell(handler: Callable[..., None], *args: Any) -> None:
    try:
        handler(*args)
    except Exception:
        logger.exception("activity listener %s failed", handler.__qualname__)
