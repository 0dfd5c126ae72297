"""Pruning old activity: the one deletion the append-only log allows."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from django.db import connection, transaction
from django.db.models import Count, Max

from activity.models import ActivityLog, RetentionMark

BATCH_SIZE = 5_000


@dataclass(frozen=True)
class Batch:
    deleted: int
    through_id: int


def prunable_summary(*, before: datetime) -> tuple[int, int]:
    """How many rows older than `before` exist and the highest id among them (0 if none)."""
    summary = ActivityLog.objects.filter(timestamp__lt=before).aggregate(
        count=Count("id"), last=Max("id")
    )
    return summary["count"], summary["last"] or 0


def prune(
    *,
    before: datetime,
    batch_size: int = BATCH_SIZE,
    on_batch: Callable[[Batch], None] | None = None,
) -> int:
    """Delete rows older than `before`, one transaction per batch so no lock is held for long
    and an interrupted run keeps what it finished. Returns how many rows went.
    """
    total = 0
    while batch := _prune_batch(before=before, batch_size=batch_size):
        total += batch.deleted
        if on_batch is not None:
            on_batch(batch)
    return total


def _prune_batch(*, before: datetime, batch_size: int) -> Batch | None:
    with transaction.atomic():
        ids = list(
            ActivityLog.objects.filter(timestamp__lt=before)
            .order_by("id")
            .values_list("id", flat=True)[:batch_size]
        )
        if not ids:
            return None
        with _deletion_allowed():
            deleted, _ = ActivityLog.objects.filter(id__in=ids).delete()
        batch = Batch(deleted=deleted, through_id=max(ids))
        _raise_mark(batch.through_id)
    return batch


@contextmanager
def _deletion_allowed() -> Iterator[None]:
    """Lifts the PostgreSQL append-only trigger for these deletes only.

    Turned off again afterwards so that, run inside a caller's transaction, the rest of that
    transaction stays guarded; on error the rollback undoes the setting anyway.
    """
    _execute_on_postgresql("SET LOCAL activity.allow_prune = 'on'")
    yield
    _execute_on_postgresql("SET LOCAL activity.allow_prune = 'off'")


def _execute_on_postgresql(sql: str) -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(sql)


def _raise_mark(through_id: int) -> None:
    """Only ever raise it: a reader resuming below the mark must learn its history is gone."""
    RetentionMark.objects.get_or_create(id=1)
    RetentionMark.objects.filter(id=1, pruned_through__lt=through_id).update(
        pruned_through=through_id
    )
