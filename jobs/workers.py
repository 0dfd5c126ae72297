"""The worker table: each job worker registers as it starts, renews its heartbeat while it
runs and says when it stops, so that readiness checks and operators can tell live workers
from dead ones.

Rows only appear when a worker starts, and each start deletes the rows of workers gone for
a day, so the table holds the live workers and the recent departures, nothing more.
"""

import logging
import os
import socket
import time
from datetime import timedelta

from django.db import close_old_connections
from django.utils import timezone

from jobs.models import Worker

logger = logging.getLogger(__name__)

DEPARTED_KEPT_FOR = timedelta(days=1)


def register(*, name: str, queues: list[str], concurrency: int) -> Worker:
    """Record this process as a live worker; a restart under the same name takes its row."""
    now = timezone.now()
    worker, _ = Worker.objects.update_or_create(
        name=name,
        defaults={
            "hostname": socket.gethostname(),
            "pid": os.getpid(),
            "queues": queues,
            "concurrency": concurrency,
            "started_at": now,
            "heartbeat_at": now,
            "stopped_at": None,
        },
    )
    return worker


def renew(name: str) -> bool:
    """Renew the heartbeat; False when there is no live row to renew."""
    live = Worker.objects.filter(name=name, stopped_at__isnull=True)
    return bool(live.update(heartbeat_at=timezone.now()))


def mark_stopped(name: str) -> None:
    now = timezone.now()
    Worker.objects.filter(name=name, stopped_at__isnull=True).update(
        stopped_at=now, heartbeat_at=now
    )


def delete_departed(*, kept_for: timedelta = DEPARTED_KEPT_FOR) -> int:
    """Delete workers that stopped, or went silent, longer ago than `kept_for`."""
    deleted, _ = Worker.objects.filter(heartbeat_at__lt=timezone.now() - kept_for).delete()
    return deleted


class Heartbeat:
    """A job supervisor's row, kept fresh from the supervisor's own loop.

    Nothing here may stop the supervisor: with the database away, it logs and tries again
    on the next beat, registering afresh if the row went meanwhile.
    """

    def __init__(self, *, name: str, queues: list[str], concurrency: int, interval: float) -> None:
        self.name = name
        self.queues = queues
        self.concurrency = concurrency
        self.interval = interval
        self._next_beat = 0.0

    def start(self) -> None:
        self._next_beat = time.monotonic() + self.interval
        try:
            self._register()
            delete_departed()
        except Exception as exc:
            logger.warning("could not register job worker %s (%s); retrying", self.name, exc)

    def beat_if_due(self) -> None:
        now = time.monotonic()
        if now < self._next_beat:
            return
        self._next_beat = now + self.interval
        close_old_connections()
        try:
            if not renew(self.name):
                self._register()
        except Exception as exc:
            logger.warning("could not renew job worker %s (%s); retrying", self.name, exc)

    def stop(self) -> None:
        try:
            mark_stopped(self.name)
        except Exception as exc:
            logger.warning("could not mark job worker %s stopped (%s)", self.name, exc)

    def _register(self) -> None:
        register(name=self.name, queues=self.queues, concurrency=self.concurrency)
