"""Making notifications on a thread of each server and job worker process.

The notifier runs at once after its own process committed activity (in `manage.py serve`,
every API write; in a job worker, what its children report through `nudge`), and otherwise
every poll interval for activity committed by other processes. Notifiers on many machines
share the work safely: one at a time holds the cursor. It needs no job worker, so servers
run with `--no-worker` make notifications too.
"""

import logging
import threading

from django.conf import settings
from django.db import close_old_connections, connection

from activity import events
from activity.models import ActivityLog
from activity.notifications import services

logger = logging.getLogger(__name__)

# Woken by a commit, the notifier waits this long first: the commits of a burst become one
# pass, and the pass runs after the server has sent the commit's live events, not on the
# interpreter's lock beside them (in a fan-out to 1,000 sockets, p99 +20% otherwise).
SETTLE_SECONDS = 0.1


class Notifier(events.Listener):
    def __init__(self, *, poll_seconds: float) -> None:
        self.poll_seconds = poll_seconds
        self._due = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="notifier", daemon=True)

    def start(self) -> None:
        events.plug(self)
        self._thread.start()

    def stop(self) -> None:
        events.unplug(self)
        self._stopping.set()
        self._due.set()
        self._thread.join()

    def activity_committed(self, entry: ActivityLog) -> None:
        self.activity_arrived()

    def activity_arrived(self) -> None:
        self._due.set()

    def _run(self) -> None:
        try:
            while not self._stopping.is_set():
                self._due.clear()
                self._deliver()
                if self._due.wait(self.poll_seconds):
                    self._stopping.wait(SETTLE_SECONDS)
        finally:
            connection.close()

    def _deliver(self) -> None:
        close_old_connections()
        try:
            while services.deliver_pending() == services.BATCH_SIZE:
                pass
        except Exception as exc:
            logger.warning("could not make notifications (%s); trying again later", exc)


_notifier: Notifier | None = None


def start() -> None:
    """Start this process's notifier, unless it runs already. From the main thread."""
    global _notifier
    if _notifier is None:
        _notifier = Notifier(poll_seconds=settings.JOBS_POLL_SECONDS)
        _notifier.start()


def stop() -> None:
    """Stop it, letting a delivery under way finish."""
    global _notifier
    if _notifier is not None:
        _notifier.stop()
        _notifier = None


def nudge() -> None:
    """Activity this process did not commit itself, a job worker child's, has committed."""
    if _notifier is not None:
        _notifier.activity_arrived()
