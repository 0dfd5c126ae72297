"""Running one claimed job to an outcome: completed, failed attempt, timed out, cancelled.

The handler runs on the calling (main) thread of a worker process, under a SIGALRM timer
for its timeout; a heartbeat thread renews the lease, picks up cancel requests and sends
held-back progress. The outcome is recorded only if this attempt still owns the job.
"""

import logging
import signal
import threading
import time
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.db import close_old_connections
from django.utils.json import normalize_json

from episode_metadata.common import context
from episode_metadata.common.context import Source
from jobs import registry, runtime, services
from jobs.models import Job

logger = logging.getLogger(__name__)

# Progress goes out this often; a dashboard needs no more than a few updates a second.
TICK_SECONDS = 0.25
CANCEL_CHECK_SECONDS = 1.0  # a cancel request is honoured within about a second


# How a handler ended: "completed" with its result, "cancelled", or "failed" with the error.
Outcome = tuple[str, Any]


def run_claimed(job: Job) -> str | None:
    """Run `job` (claimed by this worker) and record how it ended.

    Returns the job's new status, or None if the job was taken from this worker meanwhile.
    """
    return answer(job, run(job))


def run(job: Job) -> Outcome:
    """Call the handler of `job` (claimed by this worker); nothing is recorded yet, so that
    the worker can answer for it in the same transaction as it claims its next job."""
    declared = registry.get(job.job_type)
    if declared is None:
        return "failed", LookupError(f"no handler is registered for job type {job.job_type!r}")
    handler_context = context.ActivityContext(
        source=Source.JOB,
        request_id=f"job:{job.pk}",
        actor_label=f"{job.job_type} job",
        get_user=lambda: job.created_by,
        get_user_id=lambda: job.created_by_id,
        job_id=str(job.pk),
    )
    with context.acting(handler_context), runtime.running(job) as state, _heartbeat.watching(state):
        try:
            with _time_limit(job.timeout_seconds):
                value = declared.task.call(**job.payload)
            return "completed", normalize_json(value)
        except runtime.JobCancelled:
            return "cancelled", None
        except (Exception, runtime.JobTimeout) as exc:
            return "failed", exc


def answer(job: Job, outcome: Outcome) -> str | None:
    """Record how the attempt ended, if it still owns the job: the new status, else None."""
    kind, value = outcome
    with context.acting(_worker_context(job)):
        if kind == "completed":
            return services.complete(job, value)
        if kind == "cancelled":
            return services.cancelled_by_handler(job)
        return services.fail_attempt(job, services.error_entry(value, attempt=job.attempts))


def _worker_context(job: Job) -> context.ActivityContext:
    return context.ActivityContext(
        source=Source.JOB,
        request_id=f"job:{job.pk}",
        actor_label=f"worker {job.worker_id}",
        job_id=str(job.pk),
    )


@contextmanager
def _time_limit(seconds: int):
    if threading.current_thread() is not threading.main_thread():
        raise RuntimeError("jobs run on a worker process's main thread (timeouts use SIGALRM)")

    def expired(signum, frame):
        raise runtime.JobTimeout(f"the job ran past its timeout of {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class _Heartbeat:
    """One thread per worker process, looking after whichever job runs on the main thread:
    it sends progress, notices cancel requests and renews the lease."""

    def __init__(self) -> None:
        self._state: runtime.RunningJob | None = None
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    @contextmanager
    def watching(self, state: runtime.RunningJob):
        with self._lock:
            self._state = state
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="job-heartbeat", daemon=True)
                self._thread.start()
        try:
            yield
        finally:
            with self._lock:
                # Unsent progress dies with the attempt: its outcome tells the rest.
                self._state = None

    def _run(self) -> None:
        watched, last_check, last_beat = None, 0.0, 0.0
        while True:
            time.sleep(TICK_SECONDS)
            with self._lock:
                state = self._state
                if state is None:
                    continue
                if state is not watched:
                    watched, last_check, last_beat = state, time.monotonic(), time.monotonic()
                try:
                    last_check, last_beat = _tick(state, last_check, last_beat)
                except Exception as exc:
                    logger.warning("heartbeat for job %s failed (%s); retrying", state.job.pk, exc)
                    close_old_connections()


def _tick(state: runtime.RunningJob, last_check: float, last_beat: float) -> tuple[float, float]:
    """Runs under the heartbeat's lock, so the attempt cannot end halfway through."""
    state.flush()
    now = time.monotonic()
    if now - last_check >= CANCEL_CHECK_SECONDS:
        last_check = now
        if services.cancel_was_requested(state.job):
            state.cancel_requested.set()
    if now - last_beat >= settings.JOBS_LEASE_SECONDS / 3:
        last_beat = now
        if not services.heartbeat(state.job):
            logger.warning(
                "job %s was taken back from this worker; asking it to stop", state.job.pk
            )
            state.cancel_requested.set()
    return last_check, last_beat


_heartbeat = _Heartbeat()
