"""Telling idle workers that a job is waiting, as soon as the enqueue commits.

On PostgreSQL the enqueue sends NOTIFY inside its transaction, so workers on any machine
hear it exactly when it commits (and never when it rolls back). SQLite has no such channel,
and its workers share the machine with the database file, so each worker supervisor binds a
Unix datagram socket in a directory beside that file and an enqueue's commit sends a byte to
every socket there. A worker supervisor in the same process (the embedded default's `serve`)
is woken directly after commit. Workers also poll, which covers everything else (a delayed
`run_after`, a retry coming due, a socket path too long to bind).
"""

import contextlib
import logging
import os
import secrets
import socket
import threading
from collections.abc import Callable
from pathlib import Path

import psycopg
from django.db import connection, transaction

logger = logging.getLogger(__name__)

CHANNEL = "jobs_waiting"
SOCKET_SUFFIX = ".sock"

_local_listeners: list[Callable[[], None]] = []


def job_enqueued() -> None:
    """Call inside the enqueueing transaction."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_notify(%s, '')", [CHANNEL])
    elif (directory := socket_directory()) is not None:
        transaction.on_commit(lambda: _wake_sockets(directory), robust=True)
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


def socket_directory() -> Path | None:
    """Beside the SQLite file, so that exactly the processes sharing the database meet
    there; an in-memory database is never shared between processes."""
    if connection.vendor != "sqlite":
        return None
    name = str(connection.settings_dict["NAME"])
    if not name or name == ":memory:" or "mode=memory" in name:
        return None
    return Path(f"{name}-wake")


def _wake_sockets(directory: Path) -> None:
    """Never waits and never fails the enqueue: a full socket has a wake-up pending, and a
    refused one belongs to a worker that died without removing it."""
    try:
        paths = [p for p in directory.iterdir() if p.name.endswith(SOCKET_SUFFIX)]
    except OSError:  # no worker has bound one yet
        return
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sender:
        sender.setblocking(False)
        for path in paths:
            try:
                sender.sendto(b"w", os.fspath(path))
            except ConnectionRefusedError:
                with contextlib.suppress(OSError):
                    path.unlink()
            except OSError:
                pass


def bind_socket() -> socket.socket | None:
    """A non-blocking socket that enqueues on this SQLite database wake. None where there is
    none to bind (PostgreSQL, an in-memory database) or it cannot be bound: its path longer
    than AF_UNIX allows (107 bytes), a directory not writable."""
    directory = socket_directory()
    if directory is None:
        return None
    # Processes in other containers sharing the file may have our pid.
    path = directory / f"{os.getpid()}-{secrets.token_hex(4)}{SOCKET_SUFFIX}"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        directory.mkdir(exist_ok=True)
        listener.bind(os.fspath(path))
    except OSError as exc:
        listener.close()
        logger.warning(
            "job wake-ups from other processes unavailable: cannot bind %s (%s); "
            "the jobs they enqueue wait for the next poll",
            path,
            exc,
        )
        return None
    listener.setblocking(False)
    return listener


def unbind_socket(listener: socket.socket) -> None:
    with contextlib.suppress(OSError):
        os.unlink(listener.getsockname())
    listener.close()


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
