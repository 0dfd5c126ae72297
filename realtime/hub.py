"""The per-process fan-out: one channel-layer subscription, one read of the log, many sockets.

Each server process runs one hub. It joins the layer group once, and on every wake-up reads
the activity rows committed since its cursor, encodes each event once per topic and queues
it to the local subscribers of that topic. Reading the log (rather than trusting the layer
message) makes delivery gap-free and ordered even if the layer drops or reorders messages;
a short poll covers the layer being down.
"""

import asyncio
import contextlib
import logging
import uuid
import weakref
from collections import defaultdict

from channels.db import database_sync_to_async

from activity import role_changes
from activity.notifications import live
from episode_metadata.common import outages
from realtime import channel_layer, events, metrics, selectors, topics
from realtime.log_reader import LogReader
from realtime.subscriber import Subscriber
from realtime.topics import About

logger = logging.getLogger(__name__)

GROUP = "realtime.events"
# Tells this process's own messages apart when the layer echoes them back.
PROCESS_ID = uuid.uuid4().hex
POLL_SECONDS = 2.0
BATCH_SIZE = 500
REJOIN_SECONDS = 60.0
REDIS_CHECK_SECONDS = 1.0


class Hub:
    def __init__(self) -> None:
        self.last_id = 0
        self._subscribers: dict[str, set[Subscriber]] = defaultdict(set)
        self._wake = asyncio.Event()
        self._channel: str | None = None
        self._tasks: list[asyncio.Task] = []
        self._starting: asyncio.Task | None = None
        self._log = LogReader()

    async def start(self) -> None:
        """Start once for all connections; after a failed start (database down), retry."""
        failed = (
            self._starting is not None
            and self._starting.done()
            and (self._starting.cancelled() or self._starting.exception() is not None)
        )
        if self._starting is None or failed:
            self._starting = asyncio.create_task(self._start())
        await self._starting

    async def _start(self) -> None:
        self.last_id = await database_sync_to_async(selectors.latest_activity_id)()
        self._tasks = [
            asyncio.create_task(self._listen(), name="realtime-hub-listen"),
            asyncio.create_task(self._tail(), name="realtime-hub-tail"),
            asyncio.create_task(self._check_while_redis_is_down(), name="realtime-hub-check"),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        layer = channel_layer.default()
        if self._channel is not None:
            try:
                await layer.group_discard(GROUP, self._channel)
            except Exception as exc:
                logger.info("could not leave the channel layer group: %s", exc)
        await self._log.close()

    def add(self, subscriber: Subscriber, new_topics: set[str]) -> None:
        for topic in new_topics:
            self._subscribers[topic].add(subscriber)
        subscriber.topics |= new_topics

    def add_personal(self, subscriber: Subscriber, topic: str) -> None:
        """A topic only this connection's user hears (their notifications); it is not one of
        the subscriber's topics, so the client can neither list nor drop it."""
        self._subscribers[topic].add(subscriber)
        subscriber.personal_topic = topic

    def remove(self, subscriber: Subscriber, old_topics: set[str] | None = None) -> None:
        if old_topics is None and subscriber.personal_topic is not None:
            self._discard(subscriber, subscriber.personal_topic)
        for topic in subscriber.topics if old_topics is None else old_topics:
            self._discard(subscriber, topic)
        subscriber.topics -= subscriber.topics if old_topics is None else old_topics

    def _discard(self, subscriber: Subscriber, topic: str) -> None:
        members = self._subscribers.get(topic)
        if members is not None:
            members.discard(subscriber)
            if not members:
                del self._subscribers[topic]

    def connection_count(self) -> int:
        return len({s for members in self._subscribers.values() for s in members})

    def wake(self) -> None:
        self._wake.set()

    async def _listen(self) -> None:
        """Receive wake-ups and ephemeral events; rejoin the group now and then, because a
        restarted Redis forgets its groups."""
        layer = channel_layer.default()
        delay = 0.5
        while True:
            try:
                if self._channel is None:
                    self._channel = await layer.new_channel("realtime.hub.")
                await layer.group_add(GROUP, self._channel)
                await self._receive_until_rejoin(layer)
                delay = 0.5
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if outages.is_connection_error(exc):
                    outages.REDIS.failed(exc)
                else:
                    logger.warning("channel layer refused the hub (%s); retrying", exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)

    async def _receive_until_rejoin(self, layer) -> None:
        loop = asyncio.get_running_loop()
        rejoin_at = loop.time() + REJOIN_SECONDS
        receiving = asyncio.ensure_future(layer.receive(self._channel))
        try:
            while True:
                done, _ = await asyncio.wait({receiving}, timeout=rejoin_at - loop.time())
                if not done:
                    return
                self.on_message(receiving.result())
                receiving = asyncio.ensure_future(layer.receive(self._channel))
        finally:
            if not receiving.done():
                receiving.cancel()

    async def _check_while_redis_is_down(self) -> None:
        """An outage of Redis ends in the log when something next uses Redis; with no
        writes or probes that could be long after it is back, so meanwhile the hub asks."""
        layer = channel_layer.default()
        while True:
            await asyncio.sleep(REDIS_CHECK_SECONDS)
            if not outages.REDIS.ongoing or self._channel is None:
                continue
            try:
                check = layer.send(self._channel, {"type": "realtime.check", "origin": PROCESS_ID})
                await asyncio.wait_for(check, REDIS_CHECK_SECONDS)
            except Exception as exc:
                outages.REDIS.failed(exc)
            else:
                outages.REDIS.succeeded()

    def on_message(self, message: dict) -> None:
        if message.get("origin") == PROCESS_ID:
            return  # delivered locally already
        if message.get("type") == "realtime.activity":
            self._wake.set()
        elif message.get("type") == "realtime.ephemeral":
            frame = events.envelope(
                message["event"],
                message["data"],
                topic=message["topic"],
                timestamp=message.get("timestamp"),
            )
            family = metrics.family_of(message["topic"])
            targets = tuple(self._subscribers.get(message["topic"], ()))
            if message.get("about") is not None:
                about = About(**message["about"])
                may_see = topics.row_rule(about.resource_type)
                targets = tuple(s for s in targets if may_see(s.access, about))
            for subscriber in targets:
                subscriber.offer(frame, family)

    async def _tail(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), POLL_SECONDS)
            self._wake.clear()
            try:
                rows = await self._log.after(self.last_id, limit=BATCH_SIZE)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                outages.DATABASE.failed(exc)
                await asyncio.sleep(POLL_SECONDS)
                continue
            outages.DATABASE.succeeded()
            for entry in rows:
                self.fan_out(entry)
            if len(rows) == BATCH_SIZE:
                self._wake.set()

    def fan_out(self, entry) -> None:
        """Queue one durable event to every local subscriber of its topics, once each.

        Synchronous on purpose: the cursor moves with the fan-out, with no await between,
        so a subscriber that notes `last_id` knows exactly which events it will still get.
        """
        self.last_id = max(self.last_id, entry.id)
        if entry.resource_type == role_changes.RESOURCE_TYPE:
            self._roles_changed(entry)
            return
        seen: set[Subscriber] = set()
        about = About.row(entry)
        may_see = topics.row_rule(entry.resource_type)
        for topic in topics.topics_of(entry.resource_type, entry.resource_id, entry.episode_id):
            members = self._subscribers.get(topic)
            if not members:
                continue
            frame = None
            family = metrics.family_of(topic)
            for subscriber in members:
                if subscriber in seen:
                    continue
                seen.add(subscriber)
                if not may_see(subscriber.access, about):
                    continue
                frame = frame or events.durable_frame(entry, topic)
                subscriber.offer_durable(entry.id, frame, family)

    def _roles_changed(self, entry) -> None:
        """A user gained or lost a role: the event goes to that user's own connections, on
        their personal topic, and each reads its access again. A row in the log reaches the
        hub of every process, however the change was made (an operator's command too)."""
        topic = live.user_topic(int(entry.resource_id))
        members = tuple(self._subscribers.get(topic, ()))
        if not members:
            return
        frame = events.durable_frame(entry, topic)
        family = metrics.family_of(topic)
        for subscriber in members:
            subscriber.offer_durable(entry.id, frame, family)
            subscriber.access_changed()


_hubs: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Hub]" = weakref.WeakKeyDictionary()


def get_hub() -> Hub:
    """This process's hub (one per event loop, so each test loop gets its own)."""
    loop = asyncio.get_running_loop()
    hub = _hubs.get(loop)
    if hub is None:
        hub = _hubs[loop] = Hub()
    return hub


async def stop_hub() -> None:
    hub = _hubs.pop(asyncio.get_running_loop(), None)
    if hub is not None:
        await hub.stop()


def wake_local_hubs() -> None:
    """Tell every hub of this process that new activity committed (from any thread)."""
    for loop, hub in list(_hubs.items()):
        if not loop.is_closed():
            loop.call_soon_threadsafe(hub.wake)


def deliver_to_local_hubs(message: dict) -> None:
    for loop, hub in list(_hubs.items()):
        if not loop.is_closed():
            loop.call_soon_threadsafe(hub.on_message, message)
