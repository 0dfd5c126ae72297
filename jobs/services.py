"""Every change of a job's state. Each transition is one write, which the activity log
records as the action it stands for (see `jobs.tracking`), so the log and live events follow.

What users do (enqueue, cancel, retry) saves through the ORM; a worker's own transitions
are single guarded UPDATEs compiled once (`jobs.statements`), since they run for every job.
"""

import logging
import traceback
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from typing import Any

from django.contrib.auth.models import AnonymousUser, User
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from activity import services as activity_services
from episode_metadata.common import context
from jobs import backoff, registry, statements, wakeup
from jobs.models import WAITING, Job, JobStatus

logger = logging.getLogger(__name__)

MAX_ERROR_MESSAGE = 2000
MAX_TRACEBACK = 20_000
RETRY_BATCH_SIZE = 500


class JobStateError(Exception):
    """The job is not in a state that allows this (cancelling a completed job, say)."""


def enqueue(
    job_type: registry.JobType,
    payload: dict[str, Any],
    *,
    user: User | AnonymousUser | None = None,
    episode_id: Any = None,
    priority: int | None = None,
    max_attempts: int | None = None,
    run_after=None,
    queue_name: str | None = None,
) -> Job:
    """Add a job to the queue, within the caller's transaction: it runs only if that commits."""
    with transaction.atomic():
        job = Job.objects.create(
            job_type=job_type.name,
            queue_name=queue_name or job_type.task.queue_name,
            payload=payload,
            priority=job_type.task.priority if priority is None else priority,
            max_attempts=max_attempts or job_type.max_attempts,
            timeout_seconds=job_type.timeout_seconds,
            run_after=run_after or timezone.now(),
            episode_id=episode_id,
            created_by=user if user is not None and user.is_authenticated else None,
        )
        wakeup.job_enqueued()
    return job


def claim(*, worker_id: str, queues: list[str]) -> Job | None:
    """Take the next due job for this worker; other workers skip the row while we hold it."""
    return _claim(worker_id=worker_id, queues=queues, savepoint=False)


def _claim(*, worker_id: str, queues: list[str], savepoint: bool) -> Job | None:
    now = timezone.now()
    # Within a caller's transaction it commits with it: `answer_then_claim` guards it.
    with transaction.atomic(savepoint=False):
        job = statements.claim(queues, now, worker_id, savepoint=savepoint)
        if job is None:
            return None
        with context.acting(replace(context.current(), request_id=f"job:{job.pk}")):
            changes = statements.running(job, worker_id, now)
            previous = activity_services.snapshot_before_save(job, fields=changes)
            _record(job, previous, changes)
    return job


def _apply(job: Job, guard: dict[str, Any], **changes: Any) -> bool:
    """Change the job with one UPDATE that applies only while `guard` holds, and record it
    in the activity log as the save it stands for.

    A worker's answer must not overwrite a job that was taken from it meanwhile (its lease
    ran out): `save()` cannot make that condition part of its UPDATE, so this does.
    """
    previous = activity_services.snapshot_before_save(job, fields=changes)
    # The UPDATE and its record stand or fall together, with the caller's transaction if any.
    with transaction.atomic(savepoint=False):
        if not statements.update(job, changes, guard):
            return False
        _record(job, previous, changes)
    return True


def _record(job: Job, previous: dict[str, Any] | None, changes: dict[str, Any]) -> None:
    """The job in memory as its row now is, and the change in the activity log."""
    for name, value in changes.items():
        setattr(job, name, value)
    activity_services.record_save(job, previous=previous, fields=changes)


def answer_then_claim(
    answer: Callable[[], str | None], *, worker_id: str, queues: list[str]
) -> tuple[str | None, Job | None]:
    """Answer for a finished attempt and claim this worker's next job in one transaction.

    One commit a job instead of two: for short jobs, commits are most of a worker's time.
    `answer` (a `complete`, `fail_attempt`, ...) returns the new status. Should the claim
    fail, the answer commits all the same, and there is no next job.
    """
    # The answer's activity row and the claim's go in one INSERT, as the transaction ends.
    with transaction.atomic(), activity_services.written_together() as recorded:
        status = answer()
        answered = len(recorded)
        try:
            return status, _claim(worker_id=worker_id, queues=queues, savepoint=True)
        except Exception:
            logger.exception("could not claim a job after answering for the last one")
            statements.undo_claim()
            del recorded[answered:]  # the claim's row, if it got that far, went with it
            return status, None


def _owned(job: Job) -> dict[str, Any]:
    """The guard for a worker's answer: the job is still running this very attempt."""
    return {"status": JobStatus.RUNNING, "worker_id": job.worker_id, "attempts": job.attempts}


def attempt(job_id: Any, *, worker_id: str, attempts: int) -> Job | None:
    """A running attempt as its worker knew it, for answering on behalf of a lost process."""
    return Job.objects.filter(
        pk=job_id, status=JobStatus.RUNNING, worker_id=worker_id, attempts=attempts
    ).first()


def complete(job: Job, result: Any) -> str | None:
    """The attempt succeeded. Returns the new status, or None if the job was taken away."""
    finished = _apply(
        job,
        _owned(job),
        status=JobStatus.COMPLETED,
        result=result,
        progress=100,
        finished_at=timezone.now(),
        heartbeat_at=None,
    )
    if not finished:
        logger.warning("job %s finished after it was taken away; result discarded", job.pk)
        return None
    return job.status


def error_entry(exc: BaseException, *, attempt: int) -> dict[str, Any]:
    kind = type(exc)
    return {
        "at": timezone.now().isoformat(),
        "attempt": attempt,
        "type": f"{kind.__module__}.{kind.__qualname__}",
        "message": str(exc)[:MAX_ERROR_MESSAGE],
        "traceback": "".join(traceback.format_exception(exc))[-MAX_TRACEBACK:],
    }


def fail_attempt(job: Job, error: dict[str, Any]) -> str | None:
    """Record a failed attempt: schedule the next one after a backoff, or fail for good."""
    dead = job.attempts >= job.max_attempts
    delay = 0.0 if dead else _retry_delay(job)
    changes = {
        "errors": [*job.errors, error],
        "heartbeat_at": None,
        "status": JobStatus.FAILED if dead else JobStatus.RETRY_SCHEDULED,
        "finished_at": timezone.now() if dead else None,
        "run_after": job.run_after if dead else timezone.now() + timedelta(seconds=delay),
    }
    if not _apply(job, _owned(job), **changes):
        logger.warning("job %s failed after it was taken away; error discarded", job.pk)
        return None
    if dead:
        logger.error(
            "job %s (%s) failed for good after %d attempts; last error %s: %s "
            "Fix the cause, then retry it: POST /api/v1/jobs/%s/retry/",
            job.pk,
            job.job_type,
            job.attempts,
            error["type"],
            _sentence(error["message"]),
            job.pk,
        )
    else:
        logger.warning(
            "job %s (%s) attempt %d/%d failed (%s: %s); retrying in %.1f s",
            job.pk,
            job.job_type,
            job.attempts,
            job.max_attempts,
            error["type"],
            error["message"],
            delay,
        )
    return job.status


def _sentence(message: str) -> str:
    """An error's message ended as a sentence, once: most already are, some are not."""
    message = message.rstrip()
    return message if message.endswith((".", "!", "?")) else f"{message}."


def _retry_delay(job: Job) -> float:
    declared = registry.get(job.job_type)
    return backoff.retry_delay(
        job.attempts,
        base=declared.backoff_base if declared else registry.BACKOFF_BASE_SECONDS,
        cap=declared.backoff_cap if declared else registry.BACKOFF_CAP_SECONDS,
    )


def cancelled_by_handler(job: Job) -> str | None:
    """The handler stopped because cancellation was requested."""
    stopped = _apply(
        job,
        _owned(job),
        status=JobStatus.CANCELLED,
        finished_at=timezone.now(),
        heartbeat_at=None,
    )
    return job.status if stopped else None


def _mark_cancelled(job: Job) -> None:
    job.status = JobStatus.CANCELLED
    job.finished_at = timezone.now()
    job.heartbeat_at = None
    job.save(update_fields=["status", "finished_at", "heartbeat_at"])


def cancel(job: Job) -> Job:
    """Waiting jobs are cancelled at once; a running one is asked to stop."""
    with transaction.atomic():
        job = Job.objects.select_for_update().get(pk=job.pk)
        if job.status in WAITING:
            _mark_cancelled(job)
        elif job.status == JobStatus.RUNNING:
            if job.cancel_requested_at is None:
                job.cancel_requested_at = timezone.now()
                job.save(update_fields=["cancel_requested_at"])
        else:
            raise JobStateError(
                f"The job is {job.status}; only waiting or running jobs can be cancelled."
            )
    return job


def retry(job: Job) -> Job:
    """Put a failed or cancelled job back in the queue, with a fresh set of attempts."""
    with transaction.atomic():
        job = Job.objects.select_for_update().get(pk=job.pk)
        if job.status not in (JobStatus.FAILED, JobStatus.CANCELLED):
            raise JobStateError(
                f"The job is {job.status}; only failed or cancelled jobs can be retried."
            )
        job.status = JobStatus.PENDING
        job.attempts = 0
        job.run_after = timezone.now()
        job.finished_at = None
        job.cancel_requested_at = None
        job.result = None
        job.progress, job.progress_message = 0, ""
        job.save(
            update_fields=[
                "status",
                "attempts",
                "run_after",
                "finished_at",
                "cancel_requested_at",
                "result",
                "progress",
                "progress_message",
            ]
        )
        wakeup.job_enqueued()
    return job


def retry_dead(
    dead: QuerySet[Job],
    *,
    batch_size: int = RETRY_BATCH_SIZE,
    on_batch: Callable[[int], None] | None = None,
) -> int:
    """Retry each failed job of `dead` (see `selectors.dead_jobs`) as `retry` does, so each
    is logged and announced like a retry by hand. Returns how many went back to the queue.

    Only jobs that had failed when it began: one that fails again meanwhile is not retried
    twice. `on_batch` hears the running total after each batch.
    """
    failed_before = Q(finished_at__lte=timezone.now()) | Q(finished_at__isnull=True)
    remaining = dead.filter(failed_before, status=JobStatus.FAILED)
    total = 0
    while batch := list(remaining.order_by("finished_at", "pk")[:batch_size]):
        for job in batch:
            try:
                retry(job)
            except (JobStateError, Job.DoesNotExist):
                continue  # retried or purged since it was listed
            total += 1
        if on_batch is not None:
            on_batch(total)
    return total


def heartbeat(job: Job) -> bool:
    """Renew this attempt's lease; False if the attempt no longer owns the job."""
    owned = Job.objects.filter(
        pk=job.pk, status=JobStatus.RUNNING, worker_id=job.worker_id, attempts=job.attempts
    )
    return bool(owned.update(heartbeat_at=timezone.now()))


def cancel_was_requested(job: Job) -> bool:
    return Job.objects.filter(pk=job.pk, cancel_requested_at__isnull=False).exists()


def save_progress(job: Job, percent: int, message: str) -> None:
    Job.objects.filter(pk=job.pk, status=JobStatus.RUNNING, worker_id=job.worker_id).update(
        progress=percent, progress_message=message[:255]
    )


def recover_lost(*, lease_seconds: float, limit: int = 100) -> int:
    """Jobs whose worker stopped heartbeating go back to the queue, their attempt counted."""
    cutoff = timezone.now() - timedelta(seconds=lease_seconds)
    recovered = 0
    with transaction.atomic():
        lost = (
            Job.objects.select_for_update(skip_locked=True)
            .filter(status=JobStatus.RUNNING, heartbeat_at__lt=cutoff)
            .order_by("heartbeat_at")[:limit]
        )
        for job in lost:
            assert job.heartbeat_at is not None  # noqa: S101 - the filter left out unset ones
            logger.warning(
                "job %s (%s) lost its worker %s (no heartbeat since %s); returning it to the queue",
                job.pk,
                job.job_type,
                job.worker_id,
                job.heartbeat_at.isoformat(),
            )
            error = {
                "at": timezone.now().isoformat(),
                "attempt": job.attempts,
                "type": "WorkerLost",
                "message": f"worker {job.worker_id} stopped heartbeating during attempt {job.attempts}",
                "traceback": "",
            }
            if fail_attempt(job, error) is not None:
                recovered += 1
    return recovered


def release(job: Job) -> bool:
    """A worker shutting down hands back an attempt it could not finish; it does not count."""
    handed_back = _apply(
        job,
        _owned(job),
        status=JobStatus.PENDING,
        attempts=job.attempts - 1,
        run_after=timezone.now(),
        heartbeat_at=None,
    )
    if not handed_back:
        return False
    wakeup.job_enqueued()
    logger.info("job %s returned to the queue by its stopping worker", job.pk)
    return True
