"""Telling idle workers that a job is waiting, as soon as the enqueue commits.

On PostgreSQL the enqueue sends NOTIFY inside its transaction, so workers on any machine
hear it exactly when it commits (and never when it rolls back). A worker supervisor in the
same process (the embedded default's `serve`) is woken directly after commit. Workers also
poll, which covers everything else (a delayed `run_after`, a retry coming due).
"""

import logging
import threading
from collections.abc import Callable

import psycopg
from django.db import connection, transaction

logger = logging.getLogger(__name__)

CHANNEL = "jobs_waiting"

_local_listeners: list[Callable[[], None]] = []


def job_enqueued() -> None:
    """Call inside the enqueueing transaction."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_notify(%s, '')", [CHANNEL])
    if _local_listeners:
        transaction.on_commit(_wake_local, robust=True)


def _wake_local() -> None:
    for listener in list(_local_listeners):
        listener()


def listen_locally(callback: Callable[[], None]) -> None:
    _local_listeners.append(callback)


def stop_listening_locally(callback: Callable[[], None]) -> None:
    if callback in _local_listeners:
        _local_listeners.remove(callback)


class PostgresListener:
    """LISTEN on a connection of its own, on a daemon thread; reconnects after failures."""

    def __init__(self, callback: Callable[[], None]) -> None:
        self._callback = callback
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="jobs-listen", daemon=True)

    def start(self) -> "PostgresListener":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopped.set()

    def _run(self) -> None:
        while not self._stopped.is_set():
            try:
                self._listen()
            except psycopg.Error as exc:
                logger.warning("job wake-ups unavailable (%s); polling until back", exc)
                self._stopped.wait(2.0)

    def _listen(self) -> None:
        db = connection.settings_dict
        params = {"dbname": db["NAME"], "user": db["USER"], "password": db["PASSWORD"]}
        params |= {"host": db["HOST"], "port": db["PORT"]}
        with psycopg.connect(**{k: v for k, v in params.items() if v}, autocommit=True) as listen:
            listen.execute(f"LISTEN {CHANNEL}")
            while not self._stopped.is_set():
                for _ in listen.notifies(timeout=1.0):
                    self._callback()
