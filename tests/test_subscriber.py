"""A subscriber writes each frame at once while the socket takes it, and queues frames
behind a write that has to wait, without losing or reordering any."""

import asyncio

from realtime.subscriber import Subscriber


async def never_closed() -> None:
    raise AssertionError("the subscriber was not expected to close the socket")


async def test_frames_a_socket_takes_at_once_are_written_in_the_offering_call():
    written = []

    async def send(frame: str) -> None:
        written.append(frame)

    subscriber = Subscriber(send, never_closed)
    subscriber.offer("one", "episodes")
    subscriber.offer("two", "episodes")

    assert written == ["one", "two"]  # no task had to run for them
    await subscriber.close()


async def test_frames_queued_behind_a_waiting_write_follow_it_in_order():
    socket_ready = asyncio.Event()
    written = []

    async def send(frame: str) -> None:
        if frame == "first":
            await socket_ready.wait()
        written.append(frame)

    subscriber = Subscriber(send, never_closed)
    for frame in ("first", "second", "third"):
        subscriber.offer(frame, "episodes")
    await asyncio.sleep(0.01)
    assert written == []

    socket_ready.set()
    for _ in range(100):
        if len(written) == 3:
            break
        await asyncio.sleep(0.01)
    assert written == ["first", "second", "third"]

    subscriber.offer("fourth", "episodes")  # the socket takes frames at once again
    assert written[-1] == "fourth"
    await subscriber.close()


async def test_closing_cancels_a_write_that_waits():
    cancelled = asyncio.Event()

    async def send(frame: str) -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    subscriber = Subscriber(send, never_closed)
    subscriber.offer("stuck", "episodes")
    await asyncio.sleep(0.01)
    await asyncio.wait_for(subscriber.close(), 1)

    assert cancelled.is_set()


async def test_a_frame_the_socket_takes_at_once_is_written_without_a_send():
    at_once, sent = [], []

    async def send(frame: str) -> None:
        sent.append(frame)

    subscriber = Subscriber(send, never_closed, write_at_once=lambda f: at_once.append(f) or True)
    subscriber.offer("one", "episodes")

    assert (at_once, sent) == (["one"], [])
    await subscriber.close()


async def test_a_frame_the_socket_cannot_take_at_once_goes_by_send_and_the_rest_queue_behind():
    socket_ready = asyncio.Event()
    at_once, sent = [], []

    def write_at_once(frame: str) -> bool:
        if not socket_ready.is_set():
            return False
        at_once.append(frame)
        return True

    async def send(frame: str) -> None:
        await socket_ready.wait()
        sent.append(frame)

    subscriber = Subscriber(send, never_closed, write_at_once=write_at_once)
    subscriber.offer("first", "episodes")
    socket_ready.set()  # the socket takes writes again, but "first" is still on its way
    subscriber.offer("second", "episodes")
    for _ in range(100):
        if len(sent) == 2:
            break
        await asyncio.sleep(0.01)

    assert (sent, at_once) == (["first", "second"], [])
    subscriber.offer("third", "episodes")
    assert at_once == ["third"]
    await subscriber.close()
