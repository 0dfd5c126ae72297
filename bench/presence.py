"""Presence on the database: what a heartbeat, a join, a REST read and a viewer list cost.

Sockets ping every 30 s, so one process holding 10,000 viewers makes about 333 heartbeats a
second; the figures say how far below one core's capacity that is.
"""

import statistics
import time
import uuid

from django.contrib.auth import get_user_model

from episodes.models import Episode
from realtime.presence import selectors as presence_selectors
from realtime.presence import services as presence

VIEWERS = 200
ROUNDS = 1000


def costs() -> list[str]:
    users = [
        get_user_model().objects.get_or_create(username=f"bench-viewer-{n}")[0]
        for n in range(VIEWERS)
    ]
    episode = Episode.objects.create(title="Bench presence")
    connections = [uuid.uuid4().hex for _ in users]
    joins = _time(
        lambda i: presence.record(
            episode_id=episode.pk, user_id=users[i].pk, connection=connections[i]
        ),
        VIEWERS,
    )
    heartbeats = _time(lambda i: presence.refresh(connection=connections[i % VIEWERS]), ROUNDS)
    reads = _time(
        lambda i: presence.read_by(episode_id=episode.pk, user_id=users[i % VIEWERS].pk),
        ROUNDS,
    )
    lists = _time(lambda i: presence_selectors.episode_viewers(episode_id=episode.pk), 200)
    return [
        f"presence, {VIEWERS} viewers of one episode: heartbeat {_summary(heartbeats)}; "
        f"join {_summary(joins)}",
        f"  REST read by a viewer, with the others {_summary(reads)}; viewer list {_summary(lists)}",
        f"  one core: {1000 / statistics.mean(heartbeats):,.0f} heartbeats/s "
        f"(10,000 viewers pinging every 30 s need 333/s)",
    ]


def _time(operation, count: int) -> list[float]:
    """Milliseconds per call."""
    spent = []
    for i in range(count):
        started = time.perf_counter()
        operation(i)
        spent.append((time.perf_counter() - started) * 1000)
    return spent


def _summary(samples: list[float]) -> str:
    ordered = sorted(samples)
    p99 = ordered[int(len(ordered) * 0.99) - 1]
    return f"p50 {statistics.median(ordered):.2f} ms, p99 {p99:.2f} ms"
