"""One worker slot: a process that claims jobs and runs them, one at a time.

Spawned and watched by `jobs.supervisor`, to which it talks over a pipe: it reports what it
runs (so the supervisor can enforce a hard timeout and hand back its job on shutdown) and how
each attempt ended (which the supervisor counts), and hands it its live events through
`episode_metadata.common.relay`, which the supervisor reports to `jobs.events`. It never
outlives the supervisor.
"""

import contextlib
import os
import signal
import threading
import time
from functools import partial
from multiprocessing.connection import Connection
from typing import Any

from episode_metadata.common import relay

FLUSH_SECONDS = 0.25


class _Pipe:
    """The pipe to the supervisor, shared by the child's threads.

    Every message says whether activity committed since the last one. Each commit of the
    loop (a claim, or an answer with the next claim) is at once followed by a message, so
    its wake-up travels free; a handler's own commits are flushed within a tick.

    Messages: ("busy", running) after a claim on its own; ("finished", job id, status, job
    type, seconds, running or None) after an answer; ("event", event); ("committed",).
    `running` is (job id, attempt, timeout in seconds).
    """

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._lock = threading.Lock()
        self._committed = False

    def send(self, *message: Any) -> None:
        with self._lock:
            self._conn.send((self._committed, *message))
            self._committed = False

    def forward(self, kind: str, message: dict[str, Any] | None) -> None:
        if kind == relay.ACTIVITY:
            with self._lock:
                self._committed = True
        else:
            self.send("event", message)

    def flush(self) -> None:
        with self._lock:
            committed = self._committed
        if committed:
            self.send("committed")


def main(conn: Connection, worker_id: str, queues: list[str], poll_seconds: float) -> None:
    """Entry point of the child process (spawned: it sets Django up itself)."""
    import django

    django.setup()
    # Ctrl-C reaches the whole process group; stopping is the supervisor's call.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    pipe = _Pipe(conn)
    _watch_parent(pipe)
    relay.set_sender(pipe.forward)
    with contextlib.suppress(EOFError, BrokenPipeError):  # the supervisor is gone
        _loop(conn, pipe, worker_id, queues, poll_seconds)


def _loop(
    conn: Connection, pipe: _Pipe, worker_id: str, queues: list[str], poll_seconds: float
) -> None:
    """Claim, run, then answer for the job and claim the next in one commit; with no job,
    wait for a wake-up or the next poll. A stop request is honoured between jobs."""
    from episode_metadata.common import context
    from episode_metadata.common.context import Source
    from jobs import execution, services

    claiming = context.ActivityContext(source=Source.JOB, actor_label=f"worker {worker_id}")
    job = None
    while True:
        if job is None:
            with context.acting(claiming):
                job = services.claim(worker_id=worker_id, queues=queues)
            if job is None:
                if _stop_requested(conn, wait=poll_seconds):
                    return
                continue
            pipe.send("busy", _running(job))
        started = time.monotonic()
        outcome = execution.run(job)
        stopping = _stop_requested(conn, wait=0)
        with context.acting(claiming):
            if stopping:
                status, claimed = execution.answer(job, outcome), None
            else:
                status, claimed = services.answer_then_claim(
                    partial(execution.answer, job, outcome), worker_id=worker_id, queues=queues
                )
        # How the attempt ended and what runs next, in one message: one a job, not two.
        next_job = None if claimed is None else _running(claimed)
        seconds = time.monotonic() - started
        pipe.send("finished", str(job.pk), status, job.job_type, seconds, next_job)
        if stopping:
            return
        job = claimed


def _running(job: Any) -> tuple[str, int, int]:
    """What the supervisor needs of a job it is told runs now: id, attempt, timeout."""
    return str(job.pk), job.attempts, job.timeout_seconds


def _stop_requested(conn: Connection, *, wait: float) -> bool:
    """Read what the supervisor sent, waiting up to `wait` for its first message: "stop",
    or "wake" (a job is waiting), on which an idle child claims again. A supervisor that is
    gone asks to stop too: the job just run is still answered for."""
    try:
        while conn.poll(wait):
            if conn.recv() == "stop":
                return True
            wait = 0
    except EOFError:
        return True
    return False


def _watch_parent(pipe: _Pipe) -> None:
    """Flush wake-ups a handler's commits left pending, and go with the supervisor: a
    SIGKILLed one cannot stop its children. The lease of a job that was running then
    expires and another worker recovers it."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(FLUSH_SECONDS)
            with contextlib.suppress(OSError):
                pipe.flush()
        os._exit(1)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()
