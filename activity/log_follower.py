"""A thread that follows the activity log after a cursor kept in the database: woken at once
by its own process's commits, and otherwise every poll interval for those of other
processes. The notifier and the webhook dispatcher are two; many of each, on many machines,
share the work safely, one at a time holding the cursor (`activity.cursors`).
"""

import logging
import threading
from abc import ABC, abstractmethod

from django.db import close_old_connections, connection

from activity import cursors, events
from activity.models import ActivityLog

# Woken by a commit, a follower waits this long first: the commits of a burst become one
# pass, and the pass runs after the server has sent the commit's live events, not on the
# interpreter's lock beside them (in a fan-out to 1,000 sockets, p99 +20% otherwise).
SETTLE_SECONDS = 0.1


class LogFollower(events.Listener, ABC):
    """Subclasses name their thread and what they make, and `follow` the log one batch of
    `batch_size` rows a call, returning how many rows it read."""

    thread_name: str
    makes: str
    batch_size: int

    def __init__(self, *, poll_seconds: float) -> None:
        self.poll_seconds = poll_seconds
        self.logger = logging.getLogger(type(self).__module__)
        self._due = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)

    @abstractmethod
    def follow(self) -> int:
        """Make what this follower makes of the next batch of rows after the cursor."""

    def start(self) -> None:
        events.plug(self)
        self._thread.start()

    def stop(self) -> None:
        """Stop following, letting a pass under way finish."""
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
                if not self._catch_up():
                    # The holder may have read its batch before the commit that woke this
                    # follower: look again shortly, not at the next poll.
                    self._stopping.wait(SETTLE_SECONDS)
                    continue
                if self._due.wait(self.poll_seconds):
                    self._stopping.wait(SETTLE_SECONDS)
        finally:
            connection.close()

    def _catch_up(self) -> bool:
        """Follow the log to its end; False when another process's pass holds the cursor."""
        close_old_connections()
        try:
            while self.follow() == self.batch_size:
                pass
        except cursors.CursorTaken:
            return False
        except Exception as exc:
            self.logger.warning("could not make %s (%s); trying again later", self.makes, exc)
        return True
