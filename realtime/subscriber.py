"""One connected client as the hub sees it: its topics, its cursor and its outgoing queue."""

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable

from episode_metadata.metrics import websocket as metrics

logger = logging.getLogger(__name__)

# Frames a client may fall behind by before it is cut off (it then resumes with `after`).
MAX_QUEUED_FRAMES = 2000


class Subscriber:
    """Frames are written at once while the socket takes them, and queued behind the first
    write that has to wait, so a slow socket never stalls the hub's fan-out to everyone
    else. Each frame carries its topic family, the label it is counted under once written."""

    def __init__(
        self,
        send: Callable[[str], Awaitable[None]],
        on_overflow: Callable[[], Awaitable[None]],
        user_id: int | None = None,
    ) -> None:
        self.topics: set[str] = set()
        self.personal_topic: str | None = None
        self.user_id = user_id
        self.cursor = 0  # the highest durable event id delivered
        self._send = send
        self._on_overflow = on_overflow
        self._replaying = False
        self._held: list[tuple[int, str, str]] = []
        self._outbox: deque[tuple[str, str]] = deque()
        self._writer: asyncio.Task | None = None
        self._closed = False
        # Why frames stopped going out, when the server cut the client off.
        self._cut_off: str | None = None

    def offer_durable(self, event_id: int, frame: str, family: str) -> None:
        if self._replaying:
            self._held.append((event_id, frame, family))
        elif event_id > self.cursor:
            self.cursor = event_id
            self.offer(frame, family)

    def offer(self, frame: str, family: str) -> None:
        if self._closed:
            if self._cut_off is not None:
                metrics.dropped(self._cut_off)
            return
        if len(self._outbox) >= MAX_QUEUED_FRAMES:
            self._cut(metrics.OVERFLOW)
            asyncio.get_running_loop().create_task(self._on_overflow())
            return
        self._outbox.append((frame, family))
        if self._writer is None or self._writer.done():
            # An eager task runs in this call up to its first wait: when the socket takes
            # the frame at once, as it nearly always does, it is written with no task switch.
            loop = asyncio.get_running_loop()
            self._writer = asyncio.Task(self._write_queued(), loop=loop, eager_start=True)

    def hold_live_events(self) -> None:
        """While replaying history, live events wait so that everything goes out in id order."""
        self._replaying = True

    def release_live_events(self) -> None:
        self._replaying = False
        held, self._held = self._held, []
        for event_id, frame, family in held:
            self.offer_durable(event_id, frame, family)

    async def close(self) -> None:
        self._closed = True
        if self._writer is not None:
            self._writer.cancel()
            await asyncio.gather(self._writer, return_exceptions=True)
        if self._cut_off is not None:
            metrics.dropped(self._cut_off, len(self._outbox))

    def _cut(self, reason: str) -> None:
        """Stop queueing; the frame that could not go out is the first one lost."""
        self._closed = True
        self._cut_off = reason
        metrics.dropped(reason)

    async def _write_queued(self) -> None:
        while self._outbox:
            frame, family = self._outbox.popleft()
            try:
                await self._send(frame)
            except Exception as exc:
                logger.info("websocket send failed (%s); dropping connection", exc)
                self._cut(metrics.SEND_FAILED)
                return
            metrics.sent(family)
