"""Purging dead jobs: failed and cancelled ones nobody retried for long enough."""

from collections.abc import Callable
from datetime import datetime

from django.db import transaction
from django.db.models import QuerySet

from jobs import selectors
from jobs.models import Job

BATCH_SIZE = 1_000


def purge(
    *,
    finished_before: datetime,
    batch_size: int = BATCH_SIZE,
    on_batch: Callable[[int], None] | None = None,
) -> int:
    """Delete failed and cancelled jobs that ended before the cutoff, one transaction per
    batch so no lock is held for long and an interrupted run keeps what it finished.

    Each deletion is recorded in the activity log like any other; the job's history there
    stays. `on_batch` hears the running total after each batch. Returns how many went.
    """
    purgeable = selectors.purgeable_jobs(finished_before=finished_before)
    total = 0
    while (deleted := _purge_batch(purgeable, batch_size=batch_size)) is not None:
        total += deleted
        if on_batch is not None:
            on_batch(total)
    return total


def _purge_batch(purgeable: QuerySet[Job], *, batch_size: int) -> int | None:
    """How many of the next batch were deleted, or None when none are left."""
    with transaction.atomic():
        ids = list(purgeable.order_by("finished_at").values_list("pk", flat=True)[:batch_size])
        if not ids:
            return None
        _, per_model = Job.objects.filter(pk__in=ids).delete()
    return per_model.get(Job._meta.label, 0)
