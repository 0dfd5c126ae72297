"""The housekeeping of the layers below the queue, which cannot import it: declared here.

Each task keeps what its setting says (days; 0 turns the task off, and it runs without
deleting anything) and returns how many rows it deleted.
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from activity import retention as activity_retention
from activity.notifications import services as notifications
from jobs import periodic, retention

DAILY = timedelta(days=1)


def register_tasks() -> None:
    periodic.register("activity_retention", every=DAILY, run=prune_activity)
    periodic.register("notification_retention", every=DAILY, run=prune_notifications)
    periodic.register("dead_jobs", every=DAILY, run=purge_dead_jobs)


def prune_activity() -> int | None:
    before = _cutoff(settings.ACTIVITY_RETENTION_DAYS)
    return None if before is None else activity_retention.prune(before=before)


def prune_notifications() -> int | None:
    days = settings.NOTIFICATIONS_RETENTION_DAYS
    return notifications.prune(read_older_than_days=days) if days > 0 else None


def purge_dead_jobs() -> int | None:
    before = _cutoff(settings.DEAD_JOBS_RETENTION_DAYS)
    return None if before is None else retention.purge(finished_before=before)


def _cutoff(days: int) -> datetime | None:
    return timezone.now() - timedelta(days=days) if days > 0 else None
