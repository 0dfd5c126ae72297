"""Wake-ups: the one tiny message each committed write sends to the other processes' hubs.

Sent from the committing thread without waiting for Redis's answer: one PUBLISH on a
connection of its own, written and left. Redis's answers are read now and then
(READ_ANSWERS_SECONDS), so an error still shows, a few wake-ups late.

The PUBLISH goes straight onto the pub/sub channel that channels-redis reads for the hubs'
group, named and serialized as channels-redis does it. Neither is channels-redis's public
API, so this is done only on the release this module was written for
(`CHANNELS_REDIS_WRITTEN_FOR`, checked by tests/test_library_internals.py); on any other,
`direct()` is False and the caller sends wake-ups through the layer's public `group_send`,
by way of the publisher's thread: one write at a time, in-process on PostgreSQL and Redis,
then took 8% longer (median of 40 alternating rounds).
"""

import importlib.metadata
import logging
import os
import threading
import time
from collections.abc import Callable
from functools import cache

import redis
from django.conf import settings

from episode_metadata.common import outages
from realtime import channel_layer

CHANNELS_REDIS_WRITTEN_FOR = "4.3.0"
WAKE_TIMEOUT_SECONDS = 0.1
READ_ANSWERS_SECONDS = 0.1
CLIENT_NAME = "episode-metadata-wake-ups"

logger = logging.getLogger(__name__)


@cache
def direct() -> bool:
    """Whether wake-ups may be written straight to channels-redis's channel."""
    installed = importlib.metadata.version("channels_redis")
    if installed == CHANNELS_REDIS_WRITTEN_FOR:
        return True
    logger.warning(
        "channels-redis %s is installed, not %s: wake-ups go through the channel layer's "
        "group_send (see realtime/wake_ups.py)",
        installed,
        CHANNELS_REDIS_WRITTEN_FOR,
    )
    return False


def group_channel(prefix: str, group: str) -> str:
    """The Redis pub/sub channel channels-redis's pub/sub layer uses for `group`."""
    return f"{prefix}__group__{group}"


class WakeUps:
    """A connection of its own, per process, that PUBLISHes one prepared command."""

    def __init__(self, group: str, message: dict, failed: Callable[[Exception], None]) -> None:
        self._group = group
        self._message = message
        self._failed = failed
        self._lock = threading.Lock()
        self._connection: redis.Connection | None = None
        self._command: list[bytes] = []
        self._answers_read_at = 0.0
        self._target: tuple[int, str, str] | None = None

    def send(self) -> None:
        with self._lock:
            try:
                connection = self._connect()
                now = time.monotonic()
                if now - self._answers_read_at >= READ_ANSWERS_SECONDS:
                    self._answers_read_at = now
                    _read_answers(connection)
                connection.send_packed_command(self._command, check_health=False)
            except Exception as exc:
                self.drop()
                self._failed(exc)

    def _connect(self) -> redis.Connection:
        config = settings.CHANNEL_LAYERS["default"].get("CONFIG", {})
        target = (os.getpid(), config["hosts"][0], config.get("prefix", "asgi"))
        if self._connection is None or self._target != target:
            # After a fork the parent's connection is the parent's: left alone, not closed.
            self.drop()
            pool = redis.ConnectionPool.from_url(
                target[1],
                socket_timeout=WAKE_TIMEOUT_SECONDS,
                socket_connect_timeout=WAKE_TIMEOUT_SECONDS,
                client_name=CLIENT_NAME,  # what CLIENT LIST shows for it
            )
            connection = pool.get_connection()
            # It connected and logged in just now: Redis is up. (A write that went out shows
            # nothing: the socket of a Redis that just stopped takes one more, and answers
            # read may have come before it stopped.)
            outages.REDIS.succeeded()
            self._command = connection.pack_command(
                "PUBLISH",
                group_channel(target[2], self._group),
                channel_layer.redis().serialize(self._message),
            )
            self._connection, self._target = connection, target
            self._answers_read_at = time.monotonic()
        return self._connection

    def drop(self) -> None:
        if (
            self._connection is not None
            and self._target is not None
            and self._target[0] == os.getpid()
        ):
            self._connection.disconnect()
        self._connection = None


def _read_answers(connection: redis.Connection) -> None:
    """What Redis answered the earlier wake-ups (listener counts, or an error, raised), up to
    what has not come yet, or to Redis having closed the connection (raised too)."""
    while connection.can_read(timeout=0):
        connection.read_response()
