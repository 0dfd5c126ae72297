"""Reads of jobs, job types, workers and periodic tasks, as the API, the admin, readiness and operators see
them."""

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypedDict

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import BooleanField, Count, ExpressionWrapper, Min, Q, QuerySet
from django.utils import timezone

from episode_metadata.common.db_functions import UUIDText
from episode_metadata.common.permissions import allowed, is_staff
from episode_metadata.common.user_serializers import with_user_summaries
from jobs import references, registry
from jobs.models import WAITING, Job, JobStatus, PeriodicTask, Worker

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations

    class _Liveness(TypedDict):
        live: bool

    # A worker as `workers()` returns it.
    LiveWorker = WithAnnotations[Worker, _Liveness]

VIEW_JOB = "jobs.view_job"


def job_list(user: AbstractBaseUser | AnonymousUser) -> QuerySet[Job]:
    """The jobs `user` may see, with their creators joined: each row names who enqueued it.

    Staff see every job; anyone else with the permission to view jobs sees those they created
    and, if they may read episodes (the episodes app names that permission), every job on an
    episode; without the permission to view jobs, none."""
    jobs = with_user_summaries(Job.objects.all(), "created_by")
    if is_staff(user):
        return jobs
    if not allowed(user, VIEW_JOB):
        return jobs.none()
    seen = Q(created_by=user.pk)
    if references.reads_episodes(user):
        seen |= Q(episode__isnull=False)
    return jobs.filter(seen)


def job_activity(user: AbstractBaseUser | AnonymousUser) -> Q | None:
    """The activity rows about jobs that `user` may read, as a filter on the log (None: all):
    those of the jobs `job_list` shows them. A row keeps its job's episode, so a job on an
    episode needs no lookup; their own jobs are matched by id."""
    if is_staff(user):
        return None
    if not allowed(user, VIEW_JOB):
        return Q(pk__in=[])
    own = Job.objects.filter(created_by=user.pk).values(text_id=UUIDText("id"))
    seen = Q(resource_id__in=own)
    if references.reads_episodes(user):
        seen |= Q(episode_id__isnull=False)
    return seen


def job_types() -> list[registry.JobType]:
    return registry.all_types()


def creatable_job_types() -> list[registry.JobType]:
    return registry.creatable_types()


def listed_files(job: Job) -> list[Any]:
    """The `files` a finished job's handler listed in its result, as it listed them.

    Handlers report files as `{"files": [{"format", "path", "size", "content_type"}], ...}`;
    a result without such a list (or that is not an object at all) lists none.
    """
    files = job.result.get("files") if isinstance(job.result, dict) else None
    return files if isinstance(files, list) else []


def is_output_file(entry: Any) -> bool:
    """Whether a listed entry names a stored file that can be downloaded by its format."""
    if not isinstance(entry, dict):
        return False
    file_format, path = entry.get("format"), entry.get("path")
    # The format is a segment of the download URL.
    valid_format = isinstance(file_format, str) and file_format and "/" not in file_format
    return bool(valid_format) and isinstance(path, str) and bool(path)


def output_file(job: Job, file_format: str) -> dict[str, Any] | None:
    for entry in listed_files(job):
        if is_output_file(entry) and entry["format"] == file_format:
            return entry
    return None


def dead_jobs(
    *,
    job_type: str | None = None,
    queue_name: str | None = None,
    failed_since: datetime | None = None,
) -> QuerySet[Job]:
    """Jobs that failed for good, optionally of one type, one queue, or recent failures only."""
    jobs = Job.objects.filter(status=JobStatus.FAILED)
    if job_type:
        jobs = jobs.filter(job_type=job_type)
    if queue_name:
        jobs = jobs.filter(queue_name=queue_name)
    if failed_since is not None:
        jobs = jobs.filter(finished_at__gte=failed_since)
    return jobs


def purgeable_jobs(*, finished_before: datetime) -> QuerySet[Job]:
    """Failed and cancelled jobs that ended before the cutoff: nothing will run them again
    unless someone retries them, and after long enough nobody will."""
    return Job.objects.filter(
        status__in=(JobStatus.FAILED, JobStatus.CANCELLED), finished_at__lt=finished_before
    )


def job_counts(*fields: str, jobs: QuerySet[Job] | None = None) -> list[dict[str, Any]]:
    """How many jobs (of all, or of `jobs`) share each combination of `fields` present, as
    `{field: value, ..., "count": n}` rows sorted by the fields."""
    jobs = Job.objects.all() if jobs is None else jobs
    return list(jobs.order_by().values(*fields).annotate(count=Count("id")).order_by(*fields))


def _due(now: datetime) -> QuerySet[Job]:
    return Job.objects.filter(status__in=WAITING, run_after__lte=now)


def oldest_due_wait() -> timedelta | None:
    """How long the job due longest has waited for a worker; None when nothing is due.

    Jobs waiting for a retry's backoff or a later `run_after` are not late yet."""
    now = timezone.now()
    oldest = _due(now).aggregate(oldest=Min("run_after"))["oldest"]
    return None if oldest is None else now - oldest


def oldest_due_waits() -> dict[str, timedelta]:
    """`oldest_due_wait`, per queue that has due jobs."""
    now = timezone.now()
    rows = _due(now).order_by().values("queue_name").annotate(oldest=Min("run_after"))
    return {row["queue_name"]: now - row["oldest"] for row in rows.order_by("queue_name")}


def _live(fresh_within: float) -> Q:
    """Not stopped, and renewed its heartbeat within `fresh_within` seconds: one silent for
    longer is presumed dead, as its jobs are."""
    cutoff = timezone.now() - timedelta(seconds=fresh_within)
    return Q(stopped_at__isnull=True, heartbeat_at__gte=cutoff)


def live_workers(*, fresh_within: float) -> QuerySet[Worker]:
    return Worker.objects.filter(_live(fresh_within))


def workers(*, fresh_within: float) -> "QuerySet[LiveWorker]":
    """Every worker, with `live` telling whether it is."""
    return Worker.objects.annotate(
        live=ExpressionWrapper(_live(fresh_within), output_field=BooleanField())
    )


def due_backlog() -> list[dict[str, Any]]:
    """Per queue with due jobs, how many there are (`depth`) and how long the one due
    longest has waited (`waited`): one pass over `job_claim_idx`, which holds only waiting
    jobs."""
    now = timezone.now()
    rows = (
        _due(now)
        .order_by()
        .values("queue_name")
        .annotate(depth=Count("id"), oldest=Min("run_after"))
    )
    return [
        {"queue_name": row["queue_name"], "depth": row["depth"], "waited": now - row["oldest"]}
        for row in rows
    ]


def due_periodic_tasks(*, names: Iterable[str], now: datetime) -> list[str]:
    """Which of these tasks are due: a read, so a check that finds none takes no write lock."""
    due = PeriodicTask.objects.filter(name__in=list(names), next_due_at__lte=now)
    return list(due.order_by("next_due_at").values_list("name", flat=True))


def periodic_tasks(*, names: Iterable[str]) -> QuerySet[PeriodicTask]:
    """The rows of these tasks (the declared ones): a task no longer declared keeps its row,
    which is history, not something that runs."""
    return PeriodicTask.objects.filter(name__in=list(names))
