"""Making webhook deliveries on a thread of each server process (`manage.py serve`).

Like the notifier, it runs at once after its own process committed activity (API writes,
and the commits of the job worker inside the server), and otherwise every poll interval for
activity committed by other processes. Dispatchers in many processes share the work safely:
one at a time holds the cursor.
"""

import logging
import threading

from django.conf import settings
from django.db import close_old_connections, connection

from activity import events
from activity.models import ActivityLog
from realtime.webhooks import services

logger = logging.getLogger(__name__)

# Woken by a commit, wait this long first, so that the commits of a burst become one pass.
SETTLE_SECONDS = 0.1


class Dispatcher(events.Listener):
    def __init__(self, *, poll_seconds: float) -> None:
        self.poll_seconds = poll_seconds
        self._due = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="webhooks", daemon=True)

    def start(self) -> None:
        events.plug(self)
        self._thread.start()

    def stop(self) -> None:
        events.unplug(self)
        self._stopping.set()
        self._due.set()
        self._thread.join()

    def activity_committed(self, entry: ActivityLog) -> None:
        self._due.set()

    def activity_arrived(self) -> None:
        self._due.set()

    def _run(self) -> None:
        try:
            while not self._stopping.is_set():
                self._due.clear()
                self._dispatch()
                if self._due.wait(self.poll_seconds):
                    self._stopping.wait(SETTLE_SECONDS)
        finally:
            connection.close()

    def _dispatch(self) -> None:
        close_old_connections()
        try:
            while services.dispatch_pending() == services.BATCH_SIZE:
                pass
        except Exception as exc:
            logger.warning("could not make webhook deliveries (%s); trying again later", exc)


_dispatcher: Dispatcher | None = None


def start() -> None:
    """Start this process's dispatcher, unless it runs already."""
    global _dispatcher
    if _dispatcher is None:
        _dispatcher = Dispatcher(poll_seconds=settings.JOBS_POLL_SECONDS)
        _dispatcher.start()


def stop() -> None:
    """Stop it, letting a pass under way finish."""
    global _dispatcher
    if _dispatcher is not None:
        _dispatcher.stop()
        _dispatcher = None


def nudge() -> None:
    """Activity this process did not commit itself, a job worker child's, has committed."""
    if _dispatcher is not None:
        _dispatcher.activity_arrived()
