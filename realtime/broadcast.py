"""Publishing events from any thread of any process, without ever holding up the caller.

Local hubs (this process) are woken directly. Other processes hear through the channel
layer, from background threads: wake-ups with Redis's plain client and a short timeout
(the asyncio publisher cost a write 0.4-1.1 ms of CPU, this about 0.1 ms, and a write
no longer waits for Redis's answer), ephemeral events from an event loop. After a
failure, publishing pauses for a few seconds, so a slow or dead Redis costs requests next
to nothing. Publishing is best effort by design: a durable event is only a wake-up call
(hubs read the activity log itself, so a lost one delays delivery by at most one poll),
and an ephemeral one is disposable.
Failures are logged and counted, never raised.
"""

import asyncio
import functools
import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import redis
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.conf import settings

from episode_metadata import counters
from episode_metadata.metrics import websocket as metrics
from realtime import hub

logger = logging.getLogger(__name__)

SEND_TIMEOUT_SECONDS = 1.0
WAKE_TIMEOUT_SECONDS = 0.1
BACK_OFF_SECONDS = 5.0
MAX_IN_FLIGHT = 10_000
WAKE_UP = {"type": "realtime.activity", "origin": hub.PROCESS_ID}

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
    if _has_other_processes() and not _paused():
        _wake_ups.request()


class _WakeUps:
    """A daemon thread that wakes other processes, started on first use (and again after a fork).

    A wake-up carries nothing but "the log has grown", so all those requested while one is
    on its way collapse into the next: a busy process sends one per Redis round trip, not
    one per write. Clearing before publishing keeps the promise that every commit is
    followed by a publish.
    """

    def __init__(self) -> None:
        self._pending = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def request(self) -> None:
        self._pending.set()
        if self._thread is None or not self._thread.is_alive():
            self._start()

    def _start(self) -> None:
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._thread = threading.Thread(target=self._run, name="realtime-wake-ups", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            self._pending.wait()
            self._pending.clear()
            _wake_other_processes()


_wake_ups = _WakeUps()


def _wake_other_processes() -> None:
    config = settings.CHANNEL_LAYERS["default"].get("CONFIG", {})
    try:
        _redis_client(config["hosts"][0]).publish(
            # How channels-redis names a group's pub/sub channel.
            f"{config.get('prefix', 'asgi')}__group__{hub.GROUP}",
            get_channel_layer().serialize(WAKE_UP),
        )
    except Exception as exc:
        _failed(exc)


@functools.cache
def _redis_client(url: str) -> redis.Redis:
    return redis.Redis.from_url(
        url, socket_timeout=WAKE_TIMEOUT_SECONDS, socket_connect_timeout=WAKE_TIMEOUT_SECONDS
    )


def _failed(exc: Exception) -> None:
    global _broken_until
    _broken_until = time.monotonic() + BACK_OFF_SECONDS
    counters.increment(counters.BROADCAST_FAILURES)
    logger.warning(
        "channel layer publish failed (%s: %s); pausing publishes for %.0f s, "
        "other processes catch up from the activity log",
        exc.__class__.__name__,
        exc,
        BACK_OFF_SECONDS,
    )


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
    if not _has_other_processes():
        return
    if _paused():
        metrics.dropped(metrics.PUBLISH_FAILED)
    else:
        _publisher.submit({**message, "origin": hub.PROCESS_ID})


class _Publisher:
    """An event loop on a daemon thread, started on first use, that sends ephemeral events."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()
        self._in_flight = 0

    def submit(self, message: dict[str, Any]) -> None:
        with self._lock:
            if self._in_flight >= MAX_IN_FLIGHT:
                counters.increment(counters.BROADCAST_FAILURES)
                metrics.dropped(metrics.PUBLISH_FAILED)
                return
            self._in_flight += 1
            if self._loop is None:
                self._loop = asyncio.new_event_loop()
                threading.Thread(
                    target=self._loop.run_forever, name="realtime-publisher", daemon=True
                ).start()
        asyncio.run_coroutine_threadsafe(self._send(message), self._loop)

    async def _send(self, message: dict[str, Any]) -> None:
        try:
            layer = get_channel_layer()
            await asyncio.wait_for(layer.group_send(hub.GROUP, message), SEND_TIMEOUT_SECONDS)
        except Exception as exc:
            _failed(exc)
            metrics.dropped(metrics.PUBLISH_FAILED)
        finally:
            with self._lock:
                self._in_flight -= 1


_publisher = _Publisher()


def _has_other_processes() -> bool:
    # With the in-memory layer there is one process only: the local hubs have it already.
    return not isinstance(get_channel_layer(), InMemoryChannelLayer)


def _paused() -> bool:
    """Within the pause after a failure: the message is not sent, and counts as failed."""
    if time.monotonic() < _broken_until:
        counters.increment(counters.BROADCAST_FAILURES)
        return True
    return False
