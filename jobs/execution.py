"""Running one claimed job to an outcome: completed, failed attempt, timed out, cancelled.

The handler runs on the calling (main) thread of a worker process, under a SIGALRM timer
for its timeout; a heartbeat thread renews the lease, picks up cancel requests and sends
held-back progress. The outcome is recorded only if this attempt still owns the job.
"""

import logging
import signal
import threading
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.db import connection
from django.utils.json import normalize_json

from activity import context
from activity.models import Source
from jobs import registry, runtime, services
from jobs.models import Job

logger = logging.getLogger(__name__)

TICK_SECONDS = 0.5
CANCEL_CHECK_TICKS = 2  # a cancel request is honoured within about a second


def run_claimed(job: Job) -> str:
    """Run `job` (claimed by this worker) and record how it ended; returns the job status."""
    declared = registry.get(job.job_type)
    outcome, value = _call(job, declared)
    with context.acting(_worker_context(job)):
        if outcome == "completed":
            services.complete(job, value)
        elif outcome == "cancelled":
            services.cancelled_by_handler(job)
        else:
            services.fail_attempt(job, services.error_entry(value, attempt=job.attempts))
    job.refresh_from_db(fields=["status"])
    return job.status


def _call(job: Job, declared: registry.JobType | None) -> tuple[str, Any]:
    if declared is None:
        return "failed", LookupError(f"no handler is registered for job type {job.job_type!r}")
    handler_context = context.ActivityContext(
        source=Source.JOB,
        request_id=f"job:{job.pk}",
        actor_label=f"{job.job_type} job",
        get_user=lambda: job.created_by,
    )
    with context.acting(handler_context), runtime.running(job) as state, _heartbeat(state):
        try:
            with _time_limit(job.timeout_seconds):
                value = declared.task.call(**job.payload)
            return "completed", normalize_json(value)
        except runtime.JobCancelled:
            return "cancelled", None
        except (Exception, runtime.JobTimeout) as exc:
            return "failed", exc


def _worker_context(job: Job) -> context.ActivityContext:
    return context.ActivityContext(
        source=Source.JOB, request_id=f"job:{job.pk}", actor_label=f"worker {job.worker_id}"
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


@contextmanager
def _heartbeat(state: runtime.RunningJob):
    stop = threading.Event()
    thread = threading.Thread(
        target=_beat, args=(state, stop), name=f"heartbeat-{state.job.pk}", daemon=True
    )
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        state.flush()


def _beat(state: runtime.RunningJob, stop: threading.Event) -> None:
    lease_every = max(1, round(settings.JOBS_LEASE_SECONDS / 3 / TICK_SECONDS))
    ticks = 0
    try:
        while not stop.wait(TICK_SECONDS):
            ticks += 1
            try:
                _tick(state, ticks, lease_every)
            except Exception as exc:
                logger.warning("heartbeat for job %s failed (%s); retrying", state.job.pk, exc)
    finally:
        connection.close()


def _tick(state: runtime.RunningJob, ticks: int, lease_every: int) -> None:
    state.flush()
    if ticks % CANCEL_CHECK_TICKS == 0 and services.cancel_was_requested(state.job):
        state.cancel_requested.set()
    if ticks % lease_every == 0 and not services.heartbeat(state.job):
        logger.warning("job %s was taken back from this worker; asking it to stop", state.job.pk)
        state.cancel_requested.set()
