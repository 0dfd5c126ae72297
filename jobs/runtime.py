"""What a running handler can ask of its job: report progress, and whether it should stop.

    from jobs import runtime

    for i, item in enumerate(items):
        runtime.stop_if_cancelled()
        ...
        runtime.report_progress(100 * (i + 1) // len(items), f"{i + 1} of {len(items)}")

Outside a worker (a handler called directly, in a test or a shell) both are no-ops.
"""

import contextvars
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from jobs import events, services
from jobs.models import Job


class JobCancelled(Exception):
    """Raised by `stop_if_cancelled`; the worker marks the job cancelled."""


class JobTimeout(BaseException):
    """Raised inside a handler that ran past its job's timeout.

    A BaseException, like KeyboardInterrupt, so a handler's `except Exception` cannot
    swallow it and run on.
    """


@dataclass
class RunningJob:
    """The running job as its handler and the worker's heartbeat thread share it.

    Progress is only noted here; the heartbeat thread saves the latest note and reports it
    (`jobs.events`) a few times a second, so a handler never waits on the database to report
    progress.
    """

    job: Job
    cancel_requested: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _unsent: tuple[int, str] | None = None

    def report(self, percent: int, message: str) -> None:
        with self._lock:
            self._unsent = (max(0, min(100, int(percent))), message)

    def flush(self) -> None:
        with self._lock:
            unsent, self._unsent = self._unsent, None
        if unsent is not None:
            self._send(*unsent)

    def _send(self, percent: int, message: str) -> None:
        services.save_progress(self.job, percent, message)
        job = self.job
        episode_id = None if job.episode_id is None else str(job.episode_id)
        events.progress(
            events.Progress(
                str(job.pk), job.job_type, percent, message, job.created_by_id, episode_id
            )
        )


_current: contextvars.ContextVar[RunningJob | None] = contextvars.ContextVar(
    "running_job", default=None
)


@contextmanager
def running(job: Job) -> Iterator[RunningJob]:
    state = RunningJob(job=job)
    token = _current.set(state)
    try:
        yield state
    finally:
        _current.reset(token)


def report_progress(percent: int, message: str = "") -> None:
    state = _current.get()
    if state is not None:
        state.report(percent, message)


def cancel_requested() -> bool:
    state = _current.get()
    return state is not None and state.cancel_requested.is_set()


def stop_if_cancelled() -> None:
    if cancel_requested():
        raise JobCancelled("cancelled on request")


def attempt() -> int:
    """Which attempt this is (1 for the first try); 1 outside a worker."""
    state = _current.get()
    return state.job.attempts if state is not None else 1


def max_attempts() -> int:
    """How many attempts the job has in all; 1 outside a worker."""
    state = _current.get()
    return state.job.max_attempts if state is not None else 1


def current_job_id() -> str | None:
    """The running job's id, for handlers that name their outputs after it."""
    state = _current.get()
    return str(state.job.pk) if state is not None else None
