"""Making notifications from inside a job worker's loop.

Each worker does it: at once after its own process committed activity (in `manage.py
serve`, every API write), and otherwise every poll interval for activity committed by other
processes. Workers on many machines share the work safely: one at a time holds the cursor.
"""

import logging
import threading
import time
from collections.abc import Callable

from django.db import close_old_connections

from activity.notifications import services
from activity.signals import activity_committed

logger = logging.getLogger(__name__)


class Notifier:
    def __init__(self, *, poll_seconds: float, nudge: Callable[[], None]) -> None:
        self.poll_seconds = poll_seconds
        self._nudge = nudge
        self._due = threading.Event()
        self._next_poll = 0.0

    def start(self) -> None:
        activity_committed.connect(self._committed, weak=False, dispatch_uid=id(self))

    def stop(self) -> None:
        activity_committed.disconnect(dispatch_uid=id(self))

    def _committed(self, sender, entry, **kwargs) -> None:
        self._due.set()
        self._nudge()

    def activity_arrived(self) -> None:
        """Something this process runs committed activity (a job child's transition)."""
        self._due.set()

    def run_if_due(self) -> None:
        now = time.monotonic()
        if not self._due.is_set() and now < self._next_poll:
            return
        self._due.clear()
        self._next_poll = now + self.poll_seconds
        close_old_connections()
        try:
            while services.deliver_pending() == services.BATCH_SIZE:
                pass
        except Exception as exc:
            logger.warning("could not make notifications (%s); trying again later", exc)
