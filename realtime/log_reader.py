"""The hub's reads of the activity log, on one thread holding one connection of its own.

Every event a process delivers waits for this read. Taken from the pool, as a request's
connection is, each read queued behind the requests for a free connection whenever the
server was busy, and every socket's events with it. So the reader keeps one persistent
connection outside the pool: one more connection per server process, never waited for.
"""

import asyncio
from concurrent.futures import ThreadPoolExecutor

from django.db import DEFAULT_DB_ALIAS, connection, connections

from activity.models import ActivityLog
from realtime import selectors


def _own_connection() -> None:
    """Give the reader thread a connection of its own: no pool, never closed for age."""
    shared = connections[DEFAULT_DB_ALIAS]
    settings_dict = {**shared.settings_dict, "CONN_MAX_AGE": None}
    settings_dict["OPTIONS"] = {
        k: v for k, v in shared.settings_dict["OPTIONS"].items() if k != "pool"
    }
    connections[DEFAULT_DB_ALIAS] = type(shared)(settings_dict, DEFAULT_DB_ALIAS)


def _close() -> None:
    connection.close()


def _read_after(after_id: int, limit: int) -> list[ActivityLog]:
    connection.close_if_unusable_or_obsolete()  # after a failure, the next read reconnects
    return selectors.activity_after(after_id, limit=limit)


class LogReader:
    def __init__(self) -> None:
        self._thread = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="realtime-hub", initializer=_own_connection
        )

    async def after(self, after_id: int, *, limit: int) -> list[ActivityLog]:
        """The committed rows past `after_id`, in commit order."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._thread, _read_after, after_id, limit)

    async def close(self) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._thread, _close)
        self._thread.shutdown(wait=False)
