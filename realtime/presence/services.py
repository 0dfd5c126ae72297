"""Viewings of an episode (the resource registered as viewable), kept in the database so that
every server process sees the same viewers.

A viewing is a row: one per socket subscribed to the episode's topic, and one per user who
read the episode over REST, each alive until its `expires_at`. A socket's pings push its expiry
forward. A row whose pings stopped (closed tab, crashed client, crashed server) is deleted by
the sweeper of whichever process reaches it first, and the transaction that deletes a user's
last row announces their departure, so each one is announced once. Joins and departures of
one user on one episode are serialized, so several tabs join once and leave once.

Presence is a courtesy: failing to record or sweep it is logged and counted, and never
fails the request or socket around it.
"""

import asyncio
import logging
import uuid
import weakref
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from channels.db import DatabaseSyncToAsync
from django.db import connections, transaction
from django.db.models import Q
from django.utils import timezone

from episode_metadata.common import counters, prepared
from episode_metadata.common.env import env_float
from realtime import broadcast
from realtime.models import Presence
from realtime.presence import selectors, viewable

logger = logging.getLogger(__name__)

# How long a viewing outlives its last heartbeat: 2.5 times the 30 s ping interval the
# protocol asks for, so one late or lost ping never drops a viewer.
TTL_SECONDS = env_float("PRESENCE_TTL_SECONDS", 75.0)
# A departure nobody reported is announced at most TTL + SWEEP_SECONDS after the last ping.
SWEEP_SECONDS = TTL_SECONDS / 5
SWEEP_BATCH = 500
HTTP = selectors.HTTP
# A reader's viewing is renewed by a read once it is this old: reading again sooner costs
# no write, and the reader stays a viewer at least TTL minus this after their last read.
RENEW_AFTER_SECONDS = TTL_SECONDS / 5
EVENT = "presence_changed"


def record(
    *, episode_id: uuid.UUID | str, user_id: int, connection: str, now: datetime | None = None
) -> bool:
    """Start or renew one viewing. Announces `joined`, and returns True, when the user was
    not viewing the episode already through another one."""
    now = now or timezone.now()
    expires_at = now + timedelta(seconds=TTL_SECONDS)
    with transaction.atomic():
        _lock(episode_id, user_id)
        joined = not selectors.is_viewing(episode_id=episode_id, user_id=user_id, now=now)
        # One INSERT ... ON CONFLICT, whether the viewing is new or renewed.
        Presence.objects.bulk_create(
            [
                Presence(
                    connection=connection,
                    episode_id=episode_id,
                    user_id=user_id,
                    since=now,
                    expires_at=expires_at,
                )
            ],
            update_conflicts=True,
            unique_fields=["connection", "episode", "user"],
            update_fields=["expires_at", "since"] if joined else ["expires_at"],
        )
        if joined:
            _announce(episode_id, user_id, "joined", now)
    return joined


def refresh(*, connection: str, now: datetime | None = None) -> int:
    """A heartbeat: one UPDATE renewing a socket's unexpired viewings. Returns how many it
    renewed; a lapsed one must be recorded again, so that its return is announced."""
    now = now or timezone.now()
    return Presence.objects.filter(connection=connection, expires_at__gt=now).update(
        expires_at=now + timedelta(seconds=TTL_SECONDS)
    )


def read_by(
    *, episode_id: uuid.UUID | str, user_id: int, now: datetime | None = None
) -> list[selectors.Viewer]:
    """A read over REST: the reader becomes a viewer for a while, and learns who else views
    the episode. One query when they read it again soon. Never raises: without the viewers,
    there are none to name; without the write, the others are named all the same."""
    now = now or timezone.now()
    try:
        others, read_until = selectors.viewers_and_own_read(
            episode_id=episode_id, user_id=user_id, now=now
        )
    except Exception:
        _failed("listing viewers")
        return []
    renewed = now + timedelta(seconds=TTL_SECONDS)
    try:
        if read_until is None:
            record(episode_id=episode_id, user_id=user_id, connection=HTTP, now=now)
        elif read_until < renewed - timedelta(seconds=RENEW_AFTER_SECONDS):
            _renew_read(episode_id, user_id, now, renewed)
    except Exception:
        _failed("recording a view")
    return others


def _renew_read(episode_id: uuid.UUID | str, user_id: int, now: datetime, until: datetime) -> None:
    """Push the read's expiry forward; if it lapsed meanwhile, record it again, so that the
    return is announced."""
    renewed = Presence.objects.filter(
        connection=HTTP, episode_id=episode_id, user_id=user_id, expires_at__gt=now
    ).update(expires_at=until)
    if not renewed:
        record(episode_id=episode_id, user_id=user_id, connection=HTTP, now=now)


def remove(
    *, episode_id: uuid.UUID | str, user_id: int, connection: str, now: datetime | None = None
) -> bool:
    """End one viewing, with the user's expired ones of the episode (gone in all but name).
    Announces `left`, and returns True, when that was the last."""
    now = now or timezone.now()
    with transaction.atomic():
        _lock(episode_id, user_id)
        deleted, _ = Presence.objects.filter(
            Q(connection=connection) | Q(expires_at__lte=now),
            episode_id=episode_id,
            user_id=user_id,
        ).delete()
        return _announce_if_left(episode_id, user_id, deleted, now)


def expire(*, now: datetime | None = None, batch: int = SWEEP_BATCH) -> int:
    """Delete the viewings whose heartbeats stopped. Returns how many departures it
    announced: in a race between processes, only the one whose DELETE removed a user's
    last rows announces."""
    now = now or timezone.now()
    departures = 0
    while True:
        pairs = selectors.expired_viewings(now=now, limit=batch)
        for episode_id, user_id in pairs:
            with transaction.atomic():
                _lock(episode_id, user_id)
                deleted, _ = Presence.objects.filter(
                    episode_id=episode_id, user_id=user_id, expires_at__lte=now
                ).delete()
                departures += _announce_if_left(episode_id, user_id, deleted, now)
        if len(pairs) < batch:
            return departures


def _lock(episode_id: uuid.UUID | str, user_id: int) -> None:
    """Hold off other joins and departures of this user on this episode until the
    transaction ends. On SQLite every transaction begins by taking the database's one
    write lock (IMMEDIATE mode), which serializes them already.

    On PostgreSQL the transaction's BEGIN goes in the lock's round trip, and its commit does
    not wait for the disk: a viewing lost in a crash of the database is recorded again at the
    viewer's next heartbeat or read, and one that comes back is swept once it expires."""
    database = transaction.get_connection()
    if database.vendor == "postgresql":
        prepared.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
            [f"presence:{episode_id}:{user_id}"],
            first=[prepared.WITHOUT_WAITING_FOR_THE_DISK],
        ).close()


def _announce_if_left(
    episode_id: uuid.UUID | str, user_id: int, deleted: int, now: datetime
) -> bool:
    left = deleted > 0 and not selectors.has_rows(episode_id=episode_id, user_id=user_id)
    if left:
        _announce(episode_id, user_id, "left", now)
    return left


def _announce(episode_id: uuid.UUID | str, user_id: int, change: str, now: datetime) -> None:
    """Publish after commit, with the viewers as this transaction leaves them."""
    viewers = selectors.episode_viewers(episode_id=episode_id, now=now)
    # A user who joined is among the viewers already: no query for their name.
    joined = next((viewer for viewer in viewers if viewer.id == user_id), None)
    data = {
        "episode_id": str(episode_id),
        "change": change,
        "user": joined.summary() if joined else selectors.user_summary(user_id),
        "viewers": [viewer.as_event_data() for viewer in viewers],
    }
    transaction.on_commit(
        partial(broadcast.publish_ephemeral, viewable.topic_of(episode_id), EVENT, data),
        robust=True,
    )


def _failed(what: str) -> None:
    counters.increment(counters.PRESENCE_FAILURES)
    logger.exception("presence: %s failed; carrying on without it", what)


async def _safely(
    what: str, operation: Callable[..., Any], *args: Any, executor: ThreadPoolExecutor | None = None
) -> Any:
    """Run a store operation off the event loop; None when it failed."""
    try:
        return await DatabaseSyncToAsync(
            operation, thread_sensitive=executor is None, executor=executor
        )(*args)
    except Exception:
        _failed(what)
        return None


class SocketPresence:
    """A socket's viewing of the episodes it subscribes to: renewed by its pings, ended by
    its disconnect or, when that never comes, by expiry."""

    def __init__(self, user_id: int) -> None:
        self.user_id = user_id
        self.connection = uuid.uuid4().hex
        self.episode_ids: set[str] = set()

    async def join(self, topics: Iterable[str]) -> None:
        new = viewable.ids_in(topics) - self.episode_ids
        if new:
            _sweeper().enlist(self)
            self.episode_ids |= new
            await self._record(new)

    async def viewers(self, topics: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
        """Each of these topics' episodes with its viewers, for a subscriber's ack; an
        episode whose viewers could not be read is left out."""
        episode_ids = viewable.ids_in(topics)
        if not episode_ids:
            return {}
        return await _safely("reading viewers", _viewers_of, episode_ids) or {}

    async def heartbeat(self) -> None:
        if not self.episode_ids:
            return
        renewed = await _safely("renewing viewers", partial(refresh, connection=self.connection))
        if renewed is not None and renewed < len(self.episode_ids):
            await self._record(set(self.episode_ids))

    async def leave(self, topics: Iterable[str]) -> None:
        await self._remove(viewable.ids_in(topics) & self.episode_ids)

    async def close(self) -> None:
        _sweeper().release(self)
        await self._remove(set(self.episode_ids))

    async def _record(self, episode_ids: set[str]) -> None:
        missing = await _safely("recording a viewer", self._record_existing, episode_ids)
        self.episode_ids -= missing or set()

    def _record_existing(self, episode_ids: set[str]) -> set[str]:
        """Returns the ids of episodes that do not exist, which nobody can view."""
        existing = viewable.existing(episode_ids)
        for episode_id in sorted(existing):
            record(episode_id=episode_id, user_id=self.user_id, connection=self.connection)
        return episode_ids - existing

    async def _remove(self, episode_ids: set[str]) -> None:
        if episode_ids:
            self.episode_ids -= episode_ids
            await _safely("removing a viewer", self._remove_all, episode_ids)

    def _remove_all(self, episode_ids: set[str]) -> None:
        for episode_id in sorted(episode_ids):
            remove(episode_id=episode_id, user_id=self.user_id, connection=self.connection)


def _viewers_of(episode_ids: set[str]) -> dict[str, list[dict[str, Any]]]:
    return {
        episode_id: [
            viewer.as_event_data() for viewer in selectors.episode_viewers(episode_id=episode_id)
        ]
        for episode_id in sorted(episode_ids)
    }


class Sweeper:
    """Deletes expired viewings for as long as its event loop has presence sockets,
    starting with a sweep at once (a restarted process catches up on its own crash)."""

    def __init__(self) -> None:
        self._members: set[SocketPresence] = set()
        self._task: asyncio.Task | None = None

    def enlist(self, member: SocketPresence) -> None:
        self._members.add(member)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="presence-sweeper")

    def release(self, member: SocketPresence) -> None:
        self._members.discard(member)
        if not self._members and self._task is not None:
            self._task.cancel()
            self._task = None

    async def _run(self) -> None:
        # A thread of its own, like the hub's reader: a sweep waiting on a lock never holds
        # up the sockets' queries, and its connection is closed when sweeping stops.
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="presence-sweeper")
        try:
            while True:
                await _safely("sweeping expired viewers", expire, executor=executor)
                await asyncio.sleep(SWEEP_SECONDS)
        finally:
            await DatabaseSyncToAsync(
                connections.close_all, thread_sensitive=False, executor=executor
            )()
            executor.shutdown(wait=False)


_sweepers: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Sweeper]" = (
    weakref.WeakKeyDictionary()
)


def _sweeper() -> Sweeper:
    """This event loop's sweeper (one per loop, like the hub)."""
    loop = asyncio.get_running_loop()
    sweeper = _sweepers.get(loop)
    if sweeper is None:
        sweeper = _sweepers[loop] = Sweeper()
    return sweeper
