"""One connected client as the hub sees it: its topics, its cursor and its outgoing queue."""

import asyncio
import logging
from collections.abc import Awaitable, Callable

logger = logging.getLogger(__name__)

# Frames a client may fall behind by before it is cut off (it then resumes with `after`).
MAX_QUEUED_FRAMES = 2000


class Subscriber:
    """Frames are queued synchronously and written by one task, so a slow socket never
    stalls the hub's fan-out to everyone else."""

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
        self._held: list[tuple[int, str]] = []
        self._outbox: asyncio.Queue[str] = asyncio.Queue()
        self._writer = asyncio.create_task(self._write_loop())
        self._closed = False

    def offer_durable(self, event_id: int, frame: str) -> None:
        if self._replaying:
            self._held.append((event_id, frame))
        elif event_id > self.cursor:
            self.cursor = event_id
            self.offer(frame)

    def offer(self, frame: str) -> None:
        if self._closed:
            return
        if self._outbox.qsize() >= MAX_QUEUED_FRAMES:
            self._closed = True
            asyncio.get_running_loop().create_task(self._on_overflow())
            return
        self._outbox.put_nowait(frame)

    def hold_live_events(self) -> None:
        """While replaying history, live events wait so that everything goes out in id order."""
        self._replaying = True

    def release_live_events(self) -> None:
        self._replaying = False
        held, self._held = self._held, []
        for event_id, frame in held:
            self.offer_durable(event_id, frame)

    async def close(self) -> None:
        self._closed = True
        self._writer.cancel()
        await asyncio.gather(self._writer, return_exceptions=True)

    async def _write_loop(self) -> None:
        while True:
            frame = await self._outbox.get()
            try:
                await self._send(frame)
            except Exception as exc:
                logger.info("websocket send failed (%s); dropping connection", exc)
                self._closed = True
                return
