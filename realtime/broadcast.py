"""Publishing events from any thread of any process, without ever holding up the caller.

Local hubs (this process) are woken directly. Other processes hear through the channel
layer, sent from a background thread so that a slow or dead Redis costs a request nothing.
Publishing is best effort by design: a durable event is only a wake-up call (hubs read the
activity log itself, so a lost one delays delivery by at most one poll), and an ephemeral
one is disposable. Failures are logged and counted, never raised.
"""

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from channels.layers import InMemoryChannelLayer, get_channel_layer

from episode_metadata import counters
from realtime import hub

logger = logging.getLogger(__name__)

SEND_TIMEOUT_SECONDS = 1.0
BACK_OFF_SECONDS = 5.0
MAX_IN_FLIGHT = 10_000
WAKE_INTERVAL_SECONDS = 0.005

_broken_until = 0.0
# Set in processes that hand their events to a parent to publish (job worker children).
_forward: Callable[[str, dict[str, Any] | None], None] | None = None


def forward_to(sender: Callable[[str, dict[str, Any] | None], None] | None) -> None:
    """Send this process's events through `sender` instead of publishing them here."""
    global _forward
    _forward = sender


def announce_activity() -> None:
    if _forward is not None:
        _forward("activity", None)
        return
    hub.wake_local_hubs()
    if _reaches_other_processes():
        _publisher.announce()


def publish_ephemeral(topic: str, event: str, data: dict[str, Any]) -> None:
    if _forward is not None:
        _forward("ephemeral", {"topic": topic, "event": event, "data": data})
        return
    message = {
        "type": "realtime.ephemeral",
        "topic": topic,
        "event": event,
        "data": data,
        "timestamp": datetime.now(UTC).isoformat(),
    }
    hub.deliver_to_local_hubs(message)
    if _reaches_other_processes():
        _publisher.submit({**message, "origin": hub.PROCESS_ID})


class _Publisher:
    """An event loop on a daemon thread, started on first use, that talks to the layer.

    Announcements coalesce: a wake-up tells hubs to read everything committed so far, so
    while one is waiting to be sent, further commits need no message of their own. Wake-ups
    also keep WAKE_INTERVAL_SECONDS apart: under a burst of writes (or of finished jobs)
    that is one publish per interval, not one per commit; a lone commit goes at once.
    """

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()
        self._in_flight = 0
        self._wake_queued = False
        self._last_wake = 0.0

    def announce(self) -> None:
        with self._lock:
            if self._wake_queued:
                return
            self._wake_queued = True
        self._run(self._send_wake())

    def submit(self, message: dict[str, Any]) -> None:
        with self._lock:
            if self._in_flight >= MAX_IN_FLIGHT:
                counters.increment(counters.BROADCAST_FAILURES)
                return
            self._in_flight += 1
        self._run(self._send(message))

    def _run(self, coroutine) -> None:
        with self._lock:
            if self._loop is None:
                self._loop = asyncio.new_event_loop()
                threading.Thread(
                    target=self._loop.run_forever, name="realtime-publisher", daemon=True
                ).start()
        asyncio.run_coroutine_threadsafe(coroutine, self._loop)

    async def _send_wake(self) -> None:
        wait = self._last_wake + WAKE_INTERVAL_SECONDS - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        self._last_wake = time.monotonic()
        with self._lock:
            # Cleared before sending: a commit from now on needs (and queues) another wake.
            self._wake_queued = False
            self._in_flight += 1
        await self._send({"type": "realtime.activity", "origin": hub.PROCESS_ID})

    async def _send(self, message: dict[str, Any]) -> None:
        global _broken_until
        try:
            layer = get_channel_layer()
            await asyncio.wait_for(layer.group_send(hub.GROUP, message), SEND_TIMEOUT_SECONDS)
        except Exception as exc:
            _broken_until = time.monotonic() + BACK_OFF_SECONDS
            counters.increment(counters.BROADCAST_FAILURES)
            logger.warning(
                "channel layer publish failed (%s: %s); pausing publishes for %.0f s, "
                "other processes catch up from the activity log",
                exc.__class__.__name__,
                exc,
                BACK_OFF_SECONDS,
            )
        finally:
            with self._lock:
                self._in_flight -= 1


_publisher = _Publisher()


def _reaches_other_processes() -> bool:
    if isinstance(get_channel_layer(), InMemoryChannelLayer):
        return False  # one process only: the local hubs have it already
    if time.monotonic() < _broken_until:
        counters.increment(counters.BROADCAST_FAILURES)
        return False
    return True
