"""`/ws/events/`: the live event stream. The protocol is described in docs/realtime.md."""

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from asgiref.typing import ASGIReceiveCallable, ASGISendCallable
from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from activity.notifications import live
from episode_metadata.common.context import ActivityContext, Source, acting
from realtime import access, events, metrics, selectors, topics
from realtime.auth import authenticate
from realtime.hub import get_hub
from realtime.presence.services import SocketPresence
from realtime.subscriber import Subscriber
from realtime.topics import About
from realtime.websocket_protocol import SharedFrameWebSocketProtocol

if TYPE_CHECKING:
    # The scope type channels' stubs give a consumer (their own name; nothing at runtime).
    from channels.consumer import _ChannelScope

logger = logging.getLogger(__name__)

UNAUTHENTICATED = 4401
TOO_SLOW = 4008
# The user's roles changed and what they may read could not be read again.
ACCESS_UNKNOWN = 1011
MAX_MESSAGE_BYTES = 8192
REPLAY_LIMIT = 1000
# A client may send this many messages in a burst, refilled at RATE per second.
BURST = 30
RATE = 10.0
# Event ids are PostgreSQL bigints; a larger `after` names no event that can ever exist.
MAX_EVENT_ID = 2**63 - 1


class BadMessage(ValueError):
    """A client message the server cannot act on; the client gets its text in an `error`."""


def parse_message(text_data: str | None) -> dict:
    """The client's message as a JSON object whose `type` is a string, whatever it sent."""
    if text_data is None:
        raise BadMessage("Send text frames holding JSON.")
    if len(text_data.encode()) > MAX_MESSAGE_BYTES:
        raise BadMessage(f"Message too large (at most {MAX_MESSAGE_BYTES} bytes).")
    try:
        message = json.loads(text_data)
    except ValueError:
        raise BadMessage("Message is not valid JSON.") from None
    except RecursionError:
        raise BadMessage("Message nests too deeply.") from None
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        raise BadMessage("Message must be a JSON object with a 'type' string.")
    return message


def requested_topics(message: dict) -> set[str]:
    raw = message.get("topics")
    if not isinstance(raw, list) or not raw:
        raise BadMessage("'topics' must be a non-empty list.")
    try:
        return {topics.validate(topic) for topic in raw}
    except topics.InvalidTopic as exc:
        raise BadMessage(str(exc)) from None


def resume_after(message: dict) -> int | None:
    """The event id a subscription resumes after; None to start now."""
    after = message.get("after")
    if after is None:
        return None
    if isinstance(after, bool) or not isinstance(after, int) or not 0 <= after <= MAX_EVENT_ID:
        raise BadMessage("'after' must be a non-negative integer event id.")
    return after


class TokenBucket:
    def __init__(self, burst: int, rate: float) -> None:
        self.burst, self.rate = burst, rate
        self.tokens = float(burst)
        self.updated = time.monotonic()

    def allow(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


class EventsConsumer(AsyncWebsocketConsumer):
    # No channel-layer channel per connection: the process's hub subscribes once for all.
    # (channels looks the alias up and gets no layer; its stubs allow only a name.)
    channel_layer_alias = None  # type: ignore[assignment]
    # Set while the socket is registered with the hub, the gauge and presence.
    subscriber: Subscriber | None = None

    async def __call__(
        self, scope: "_ChannelScope", receive: ASGIReceiveCallable, send: ASGISendCallable
    ) -> None:
        """However the socket ends (a close from either side, a server shutting down, an
        exception in this consumer), it leaves the hub, the gauge and presence: a socket
        left registered would be counted and written to forever."""
        try:
            await super().__call__(scope, receive, send)
        finally:
            await self._unregister()

    async def dispatch(self, message: dict) -> None:
        """Channels' dispatch, but for its hop to a thread before every message to close the
        database connections there: every query of this consumer runs through
        DatabaseSyncToAsync, which closes them itself. The hop queued each ping, and each
        connect twice, on the one thread that every socket's database work shares."""
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def connect(self) -> None:
        await self.accept()
        signed_in = await authenticate(self.scope)
        if signed_in is None:
            await self.close(code=UNAUTHENTICATED)
            return
        self.user, user_access = signed_in
        self.context = ActivityContext(
            source=Source.API,
            actor_label=self.user.get_username(),
            get_user=lambda: self.user,
            get_user_id=lambda: self.user.pk,
        )
        self.bucket = TokenBucket(BURST, RATE)
        # Held by each message's handling and by each re-check of access, so that a
        # subscription is never checked against access that changes meanwhile.
        self.checking = asyncio.Lock()
        self.rechecks: set[asyncio.Task] = set()
        self.hub = get_hub()
        await self.hub.start()
        self.presence = SocketPresence(self.user.pk)
        self.subscriber = Subscriber(
            self._send_frame,
            self._too_slow,
            user_id=self.user.pk,
            access=user_access,
            on_access_changed=self._access_changed,
            write_at_once=self._protocol_write(),
        )
        self.hub.add_personal(self.subscriber, live.user_topic(self.user.pk))
        metrics.CONNECTIONS.inc()

    async def _unregister(self) -> None:
        subscriber, self.subscriber = self.subscriber, None
        if subscriber is None:  # never registered: authentication failed
            return
        self.hub.remove(subscriber)
        metrics.CONNECTIONS.dec()
        for task in self.rechecks:
            task.cancel()
        await asyncio.gather(*self.rechecks, return_exceptions=True)
        await subscriber.close()
        await self.presence.close()

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        subscriber = self.subscriber
        if subscriber is None:
            return
        if not self.bucket.allow():
            self._error("Too many messages; slow down.")
            return
        try:
            message = parse_message(text_data)
            handler = self._handler(message["type"])
            async with self.checking:
                with acting(self.context):
                    await handler(subscriber, message)
        except BadMessage as exc:
            self._error(str(exc))

    def _handler(self, kind: str) -> Callable[[Subscriber, dict], Awaitable[None]]:
        handlers = {
            "subscribe": self._subscribe,
            "unsubscribe": self._unsubscribe,
            "ping": self._ping,
        }
        if kind not in handlers:
            raise BadMessage(f"Unknown message type {kind!r}.")
        return handlers[kind]

    def _topics(self, subscriber: Subscriber, message: dict) -> set[str]:
        wanted = requested_topics(message)
        if len(wanted | subscriber.topics) > topics.MAX_TOPICS:
            raise BadMessage(f"At most {topics.MAX_TOPICS} topics per connection.")
        return wanted

    async def _subscribe(self, subscriber: Subscriber, message: dict) -> None:
        wanted = self._topics(subscriber, message)
        after = resume_after(message)
        new_topics = wanted - subscriber.topics
        already = set(subscriber.topics)
        refused = await database_sync_to_async(topics.refusals)(subscriber.access, new_topics)
        if refused:
            # Refused whole, as a message naming an unknown topic is: nothing is subscribed.
            raise BadMessage(
                " ".join(f"You may not follow '{topic}': {why}." for topic, why in refused.items())
            )
        # Joined before the hub adds the topics: a socket is not told of its own arrival.
        await self.presence.join(new_topics)
        subscriber.hold_live_events()
        self.hub.add(subscriber, new_topics)
        up_to = self.hub.last_id
        try:
            if after is not None:
                await self._replay(subscriber, new_topics, already, after, up_to)
            else:
                subscriber.cursor = max(subscriber.cursor, up_to)
        finally:
            subscriber.release_live_events()
        ack = {"topics": sorted(subscriber.topics), "last_id": up_to}
        viewers = await self.presence.viewers(new_topics)
        if viewers:
            ack["viewers"] = viewers
        self._control("subscribed", ack)

    async def _replay(
        self,
        subscriber: Subscriber,
        new_topics: set[str],
        already: set[str],
        after: int,
        up_to: int,
    ) -> None:
        """Send what these topics missed after `after`, up to the hub's position; live
        events past it are held meanwhile, so none is lost or sent twice."""
        pruned = await database_sync_to_async(selectors.pruned_through)()
        rows = []
        if new_topics and after <= up_to and after >= pruned:
            rows = await database_sync_to_async(selectors.activity_for_topics)(
                new_topics, after_id=after, up_to_id=up_to, limit=REPLAY_LIMIT + 1
            )
        if after > up_to or after < pruned or len(rows) > REPLAY_LIMIT:
            subscriber.cursor = max(subscriber.cursor, up_to)
            self._control(
                "resync_required",
                {"topics": sorted(new_topics), "after": after, "last_id": up_to},
            )
            metrics.RESYNCS.inc()
            return
        for entry in rows:
            shown_before = entry.id <= subscriber.cursor and already & set(
                topics.topics_of(entry.resource_type, entry.resource_id, entry.episode_id)
            )
            if not shown_before and topics.visible(subscriber.access, About.row(entry)):
                topic = self._topic_for(entry, new_topics)
                subscriber.offer(events.durable_frame(entry, topic), metrics.family_of(topic))
                metrics.REPLAYED.inc()
        subscriber.cursor = max(subscriber.cursor, up_to)

    @staticmethod
    def _topic_for(entry, subscribed: set[str]) -> str:
        matching = topics.topics_of(entry.resource_type, entry.resource_id, entry.episode_id)
        return next(topic for topic in matching if topic in subscribed)

    async def _unsubscribe(self, subscriber: Subscriber, message: dict) -> None:
        unwanted = self._topics(subscriber, message)
        dropped = unwanted & subscriber.topics
        self.hub.remove(subscriber, dropped)
        await self.presence.leave(dropped)
        self._control("unsubscribed", {"topics": sorted(subscriber.topics)})

    def _access_changed(self) -> None:
        """The hub read a change to this user's roles: check again, at once."""
        task = asyncio.get_running_loop().create_task(self._recheck())
        self.rechecks.add(task)
        task.add_done_callback(self.rechecks.discard)

    async def _recheck(self) -> None:
        """Read the user's access again, then drop each subscription it no longer allows,
        with an `error` naming the topic. Events are sent by the new access from the moment it
        is read; if it cannot be read, the socket sees nothing more and is closed (the client
        reconnects, and signs in again); a deactivated or deleted user's is closed as signed
        out."""
        async with self.checking:
            subscriber = self.subscriber
            if subscriber is None:
                return
            try:
                subscriber.access = await database_sync_to_async(access.reread)(self.user.pk)
                lost = await database_sync_to_async(topics.refusals)(
                    subscriber.access, set(subscriber.topics)
                )
            except Exception as exc:
                logger.warning("could not re-read a user's access (%s); closing their socket", exc)
                subscriber.access = access.NOBODY
                await self.close(code=ACCESS_UNKNOWN)
                return
            if subscriber.access is access.NOBODY:
                # Deactivated or deleted: signed out, as their next request would be.
                await self.close(code=UNAUTHENTICATED)
                return
            if not lost:
                return
            self.hub.remove(subscriber, set(lost))
            await self.presence.leave(set(lost))
            for topic, why in lost.items():
                error = {"message": f"No longer following '{topic}': {why}."}
                subscriber.offer(events.envelope("error", error, topic=topic), metrics.CONTROL)

    async def _ping(self, subscriber: Subscriber, message: dict) -> None:
        # A ping is the heartbeat of the socket's presence; the pong follows its renewal.
        await self.presence.heartbeat()
        self._control("pong", {})

    def _control(self, event: str, data: dict) -> None:
        if self.subscriber is not None:  # None once the socket has left
            self.subscriber.offer(events.envelope(event, data), metrics.CONTROL)

    def _error(self, text: str) -> None:
        self._control("error", {"message": text})

    def _protocol_write(self) -> Callable[[str], bool] | None:
        """The server protocol's own immediate write, when the server is `serve`'s uvicorn
        (whose send is this protocol's method): without a coroutine and a message per
        socket, a fan-out to 4,000 sockets took 95 ms of the server's CPU per event against
        106 ms (median of six alternating rounds)."""
        protocol = getattr(self.base_send, "__self__", None)
        if isinstance(protocol, SharedFrameWebSocketProtocol):
            return protocol.write_text_now
        return None

    async def _send_frame(self, frame: str) -> None:
        # Straight to the server's send. A coroutine of our own all the same: the subscriber
        # runs it by hand, and some servers' sends are awaitables of another kind.
        # asgiref's type wants both keys; the ASGI spec lets a text frame leave `bytes` out, and
        # channels' test communicator refuses a frame with both.
        await self.base_send({"type": "websocket.send", "text": frame})  # type: ignore[arg-type]

    async def _too_slow(self) -> None:
        logger.info("closing a websocket that fell %s frames behind", "too many")
        await self.close(code=TOO_SLOW)
