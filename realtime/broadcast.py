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
import os
import socket
import ssl
import threading
import time
from datetime import UTC, datetime
from typing import Any

import redis
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.conf import settings

from episode_metadata.common import counters, outages, relay
from realtime import hub, metrics

SEND_TIMEOUT_SECONDS = 1.0
WAKE_TIMEOUT_SECONDS = 0.1
READ_ANSWERS_SECONDS = 0.1
WAKE_UPS_CLIENT_NAME = "episode-metadata-wake-ups"
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
    if _has_other_processes() and not _paused():
        _wake_ups.send()


class _WakeUps:
    """Wake-ups sent from the committing thread without waiting for Redis's answer.

    A wake-up is one small command on a connection of its own, written and left, on a
    socket that never blocks: one system call. Redis's answers are read now and then
    (READ_ANSWERS_SECONDS), so an error still shows, a few wake-ups late. A Redis that does
    not take the command at once counts as down. Each system call lets the request's other
    threads take the interpreter: reading every answer through redis-py, with its timeouts,
    made four per wake-up, and cost writes over HTTP about 3% of their rate.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pool: redis.ConnectionPool | None = None
        self._connection: redis.Connection | None = None
        self._socket: socket.socket | None = None
        self._command = b""
        self._unread = b""
        self._answers_read_at = 0.0
        self._target: tuple[int, str, str] | None = None

    def send(self) -> None:
        with self._lock:
            try:
                sock = self._connect()
                now = time.monotonic()
                if now - self._answers_read_at >= READ_ANSWERS_SECONDS:
                    self._answers_read_at = now
                    self._read_answers(sock)
                sock.sendall(self._command)
            except Exception as exc:
                self._drop()
                _failed(exc)

    def _read_answers(self, sock: socket.socket) -> None:
        """What Redis answered the earlier wake-ups, a line each (`:<listeners>` or an error),
        up to what has not come yet, or to Redis having closed the connection."""
        while True:
            try:
                data = sock.recv(4096)
            except (BlockingIOError, ssl.SSLWantReadError):
                return
            if not data:
                raise redis.ConnectionError("Redis closed the connection")
            *answers, self._unread = (self._unread + data).split(b"\r\n")
            for answer in answers:
                if answer.startswith(b"-"):
                    raise redis.ResponseError(answer[1:].decode(errors="replace"))

    def _connect(self) -> socket.socket:
        config = settings.CHANNEL_LAYERS["default"].get("CONFIG", {})
        target = (os.getpid(), config["hosts"][0], config.get("prefix", "asgi"))
        if self._socket is None or self._target != target:
            # After a fork the parent's connection is the parent's: left alone, not closed.
            self._drop()
            pool = redis.ConnectionPool.from_url(
                target[1],
                socket_timeout=WAKE_TIMEOUT_SECONDS,
                socket_connect_timeout=WAKE_TIMEOUT_SECONDS,
                client_name=WAKE_UPS_CLIENT_NAME,  # what CLIENT LIST shows for it
            )
            connection = pool.get_connection()
            # It connected and logged in just now: Redis is up. (A write that went out shows
            # nothing: the socket of a Redis that just stopped takes one more, and answers
            # read may have come before it stopped.)
            outages.REDIS.succeeded()
            self._command = b"".join(
                connection.pack_command(
                    "PUBLISH",
                    # How channels-redis names a group's pub/sub channel.
                    f"{target[2]}__group__{hub.GROUP}",
                    get_channel_layer().serialize(WAKE_UP),
                )
            )
            # redis-py connects and logs in; the socket is then ours, never to block.
            self._socket = connection._sock
            self._socket.setblocking(False)
            self._pool, self._connection, self._target = pool, connection, target
            self._answers_read_at = time.monotonic()
        return self._socket

    def _drop(self) -> None:
        if self._connection is not None and self._target[0] == os.getpid():
            self._connection.disconnect()
        self._pool = self._connection = self._socket = None
        self._unread = b""


_wake_ups = _WakeUps()


def _failed(exc: Exception) -> None:
    """Counted each time, logged as the outage of Redis: once when it starts, not once a
    pause."""
    global _broken_until
    _broken_until = time.monotonic() + BACK_OFF_SECONDS
    counters.increment(counters.BROADCAST_FAILURES)
    outages.REDIS.failed(exc)


def publish_ephemeral(topic: str, event: str, data: dict[str, Any]) -> None:
    send = relay.current_sender()
    if send is not None:
        send(relay.EPHEMERAL, {"topic": topic, "event": event, "data": data})
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
        else:
            outages.REDIS.succeeded()
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
