"""One connected client as the hub sees it: its topics, its cursor and its outgoing queue."""

import asyncio
import logging
import types
from collections import deque
from collections.abc import Callable, Coroutine, Generator
from typing import Any

from realtime import metrics
from realtime.access import NOBODY, Access

logger = logging.getLogger(__name__)

# Frames a client may fall behind by before it is cut off (it then resumes with `after`).
MAX_QUEUED_FRAMES = 2000


class Subscriber:
    """Frames are written at once while the socket takes them, and queued behind the first
    write that has to wait, so a slow socket never stalls the hub's fan-out to everyone
    else. Each frame carries its topic family, the label it is counted under once written."""

    def __init__(
        self,
        send: Callable[[str], Coroutine[Any, Any, None]],
        on_overflow: Callable[[], Coroutine[Any, Any, None]],
        user_id: int | None = None,
        access: Access = NOBODY,
        on_access_changed: Callable[[], None] | None = None,
        write_at_once: Callable[[str], bool] | None = None,
    ) -> None:
        self.topics: set[str] = set()
        self.personal_topic: str | None = None
        self.user_id = user_id
        # What the user may see, asked of every event before it is offered.
        self.access = access
        self._on_access_changed = on_access_changed
        self.cursor = 0  # the highest durable event id delivered
        self._send = send
        # Writes a frame with no coroutine when the socket takes it at once (False if not);
        # the server's protocol offers it, or nothing does and every frame goes by `send`.
        self._write_at_once = write_at_once
        self._on_overflow = on_overflow
        self._replaying = False
        self._held: list[tuple[int, str, str]] = []
        self._outbox: deque[tuple[str, str]] = deque()
        self._writer: asyncio.Task | None = None
        # What the socket does when cut off for overflowing (the server's close frame): held
        # so that its outcome is collected, whatever becomes of the socket meanwhile.
        self._overflowed: asyncio.Task | None = None
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
            self._overflowed = asyncio.get_running_loop().create_task(self._on_overflow())
            return
        if self._writer is None or self._writer.done():
            if self._write_at_once is not None and self._write_at_once(frame):
                metrics.sent(family)
            else:
                self._write_now(frame, family)
        else:
            self._outbox.append((frame, family))

    def access_changed(self) -> None:
        """The user's roles changed: whoever owns the socket reads its access again."""
        if self._on_access_changed is not None and not self._closed:
            self._on_access_changed()

    def hold_live_events(self) -> None:
        """While replaying history, live events wait so that everything goes out in id order."""
        self._replaying = True

    def release_live_events(self) -> None:
        self._replaying = False
        held, self._held = self._held, []
        for event_id, frame, family in held:
            self.offer_durable(event_id, frame, family)

    async def close(self) -> None:
        """The socket is gone: a write or a close frame still waiting on it never will go."""
        self._closed = True
        waiting = [task for task in (self._writer, self._overflowed) if task is not None]
        for task in waiting:
            task.cancel()
        await asyncio.gather(*waiting, return_exceptions=True)
        if self._cut_off is not None:
            metrics.dropped(self._cut_off, len(self._outbox))

    def _cut(self, reason: str) -> None:
        """Stop queueing; the frame that could not go out is the first one lost."""
        self._closed = True
        self._cut_off = reason
        metrics.dropped(reason)

    def _write_now(self, frame: str, family: str) -> None:
        """Run the send here, up to its first wait. A socket nearly always takes the frame
        at once, and then the send is done with no task at all: in a fan-out to a thousand
        sockets, a task per socket (even an eager one) was a fifth of the time. Only a send
        that has to wait gets a task, which finishes it and writes what queued meanwhile."""
        sending = self._send(frame)
        try:
            waiting_on = sending.send(None)
        except StopIteration:
            metrics.sent(family)
        except Exception as exc:
            self._send_failed(exc)
        else:
            loop = asyncio.get_running_loop()
            self._writer = loop.create_task(self._finish(sending, waiting_on, family))

    async def _finish(
        self, sending: Coroutine[Any, Any, None], waiting_on: Any, family: str
    ) -> None:
        try:
            await _resume(sending, waiting_on)
        except Exception as exc:
            self._send_failed(exc)
            return
        metrics.sent(family)
        await self._write_queued()

    async def _write_queued(self) -> None:
        while self._outbox:
            frame, family = self._outbox.popleft()
            try:
                await self._send(frame)
            except Exception as exc:
                self._send_failed(exc)
                return
            metrics.sent(family)

    def _send_failed(self, exc: Exception) -> None:
        logger.info("websocket send failed (%s); dropping connection", exc)
        self._cut(metrics.SEND_FAILED)


@types.coroutine
def _resume(coroutine: Coroutine[Any, Any, None], waiting_on: Any) -> Generator[Any, Any, None]:
    """Await the rest of a coroutine already run by hand up to `waiting_on`, what it waits
    for: the task awaiting this waits for it instead, and hands back its outcome."""
    while True:
        try:
            outcome = yield waiting_on
        except GeneratorExit:
            coroutine.close()
            raise
        except BaseException as exc:  # a cancellation, above all: the coroutine gets it
            try:
                waiting_on = coroutine.throw(exc)
            except StopIteration:
                return
        else:
            try:
                waiting_on = coroutine.send(outcome)
            except StopIteration:
                return
