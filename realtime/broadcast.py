"""Publishing events from any thread of any process, without ever holding up the caller.

Local hubs (this process) are woken directly. Other processes hear through the channel
layer: wake-ups written to Redis by the committing thread, which never waits for the
answer, and ephemeral events from an event loop on a background thread. After a
failure, publishing pauses for a few seconds, so a slow or dead Redis costs requests next
to nothing. Publishing is best effort by design: a durable event is only a wake-up call
(hubs read the activity log itself, so a lost one delays delivery by at most one poll),
and an ephemeral one is disposable.
Failures are logged and counted, never raised.
"""

import asyncio
import threading
import time
from datetime import UTC, datetime
from typing import Any

from channels.layers import InMemoryChannelLayer, get_channel_layer

from episode_metadata.common import counters, outages, relay
from realtime import channel_layer, hub, metrics, wake_ups

SEND_TIMEOUT_SECONDS = 1.0
BACK_OFF_SECONDS = 5.0
MAX_IN_FLIGHT = 10_000
WAKE_UP = {"type": "realtime.activity", "origin": hub.PROCESS_ID}

_broken_until = 0.0


def announce_activity() -> None:
    send = relay.current_sender()
    if send is not None:
        send(relay.ACTIVITY, None)
        return
    hub.wake_local_hubs()
    if not _has_other_processes() or _paused():
        return
    if wake_ups.direct():
        _wake_ups.send()
    else:
        _publisher.submit(WAKE_UP)


def _failed(exc: Exception) -> None:
    """Counted each time, logged as the outage of Redis: once when it starts, not once a
    pause."""
    global _broken_until
    _broken_until = time.monotonic() + BACK_OFF_SECONDS
    counters.increment(counters.BROADCAST_FAILURES)
    outages.REDIS.failed(exc)


def publish_ephemeral(
    topic: str, event: str, data: dict[str, Any], about: dict[str, Any] | None = None
) -> None:
    """`about` (the fields of `realtime.topics.About`) says what the event is about, when not
    everyone following the topic may see it: each hub asks the rules before sending it on."""
    event_fields = {"topic": topic, "event": event, "data": data}
    if about is not None:
        event_fields["about"] = about
    send = relay.current_sender()
    if send is not None:
        send(relay.EPHEMERAL, event_fields)
        return
    message = {
        "type": "realtime.ephemeral",
        **event_fields,
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
            layer = channel_layer.default()
            await asyncio.wait_for(layer.group_send(hub.GROUP, message), SEND_TIMEOUT_SECONDS)
        except Exception as exc:
            _failed(exc)
            metrics.dropped(metrics.PUBLISH_FAILED)
        else:
            outages.REDIS.succeeded()
        finally:
            with self._lock:
                self._in_flight -= 1


_publisher = _Publisher()
_wake_ups = wake_ups.WakeUps(hub.GROUP, WAKE_UP, failed=_failed)


def _has_other_processes() -> bool:
    # With the in-memory layer there is one process only: the local hubs have it already.
    return not isinstance(get_channel_layer(), InMemoryChannelLayer)


def _paused() -> bool:
    """Within the pause after a failure: the message is not sent, and counts as failed."""
    if time.monotonic() < _broken_until:
        counters.increment(counters.BROADCAST_FAILURES)
        return True
    return False
