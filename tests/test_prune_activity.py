"""Pruning old activity, and the PostgreSQL trigger that allows no other change to the log."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import Error, connection, transaction
from django.utils import timezone

from activity import retention
from activity.models import ActivityLog, RetentionMark

pytestmark = pytest.mark.django_db

on_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the append-only trigger exists on PostgreSQL only"
)


def entry_aged(days: float) -> ActivityLog:
    return ActivityLog.objects.create(
        timestamp=timezone.now() - timedelta(days=days),
        action="create",
        resource_type="episode",
        resource_id="1",
    )


def prune(*args: str) -> str:
    out = StringIO()
    call_command("prune_activity", *args, stdout=out)
    return out.getvalue()


def test_deletes_rows_older_than_the_cutoff_and_keeps_newer():
    old = [entry_aged(40), entry_aged(31)]
    kept = [entry_aged(29), entry_aged(0)]

    output = prune("--older-than", "30")

    assert set(ActivityLog.objects.values_list("id", flat=True)) == {e.id for e in kept}
    assert f"Deleted 2 rows through #{old[1].id}." in output
    assert "Deleted 2 activity rows" in output


def test_records_the_highest_pruned_id():
    entry_aged(40)
    last_old = entry_aged(35)
    entry_aged(1)

    prune("--older-than", "30")

    assert RetentionMark.objects.get(pk=1).pruned_through == last_old.id


def test_the_mark_only_ever_rises():
    RetentionMark.objects.create(id=1, pruned_through=10**9)
    entry_aged(40)

    prune("--older-than", "30")

    assert RetentionMark.objects.get(pk=1).pruned_through == 10**9
    assert not ActivityLog.objects.exists()


def test_nothing_to_prune_leaves_the_mark_alone():
    entry_aged(1)

    output = prune("--older-than", "30")

    assert "Deleted 0 activity rows" in output
    assert not RetentionMark.objects.exists()
    assert ActivityLog.objects.count() == 1


def test_deletes_in_batches_reporting_each():
    ActivityLog.objects.bulk_create(
        ActivityLog(
            timestamp=timezone.now() - timedelta(days=60),
            action="create",
            resource_type="episode",
            resource_id=str(n),
        )
        for n in range(7)
    )
    ids = sorted(ActivityLog.objects.values_list("id", flat=True))
    reported = []

    total = retention.prune(
        before=timezone.now() - timedelta(days=30), batch_size=3, on_batch=reported.append
    )

    assert total == 7
    assert [(b.deleted, b.through_id) for b in reported] == [
        (3, ids[2]),
        (3, ids[5]),
        (1, ids[6]),
    ]
    assert RetentionMark.objects.get(pk=1).pruned_through == ids[6]
    assert not ActivityLog.objects.exists()


def test_dry_run_deletes_nothing_and_says_what_would_go():
    entry_aged(40)
    last_old = entry_aged(31)
    entry_aged(1)

    output = prune("--older-than", "30", "--dry-run")

    assert "Would delete 2 activity rows" in output
    assert f"through #{last_old.id}" in output
    assert ActivityLog.objects.count() == 3
    assert not RetentionMark.objects.exists()


@pytest.mark.parametrize("days", ["0", "-1", "abc", "1.5", "99999999999"])
def test_older_than_must_be_a_positive_whole_number(days):
    entry_aged(40)

    with pytest.raises(CommandError, match="older-than"):
        prune("--older-than", days)

    assert ActivityLog.objects.count() == 1


def test_older_than_is_required():
    with pytest.raises(CommandError, match="older-than"):
        prune()


# --- The append-only trigger -----------------------------------------------------------------


@on_postgresql
def test_a_raw_update_is_refused():
    row = entry_aged(0)

    with (
        pytest.raises(Error, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("UPDATE activity_activitylog SET action = 'delete' WHERE id = %s", [row.id])

    row.refresh_from_db()
    assert row.action == "create"


@on_postgresql
def test_a_raw_delete_is_refused():
    row = entry_aged(400)

    with (
        pytest.raises(Error, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("DELETE FROM activity_activitylog WHERE id = %s", [row.id])

    assert ActivityLog.objects.filter(pk=row.id).exists()


@on_postgresql
def test_an_orm_update_is_refused_even_while_pruning_is_allowed():
    row = entry_aged(0)

    with pytest.raises(Error, match="append-only"), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL activity.allow_prune = 'on'")
        ActivityLog.objects.filter(pk=row.id).update(action="delete")

    row.refresh_from_db()
    assert row.action == "create"


@on_postgresql
def test_prune_still_deletes_and_leaves_the_guard_up_afterwards():
    old, kept = entry_aged(400), entry_aged(0)

    prune("--older-than", "30")

    assert not ActivityLog.objects.filter(pk=old.id).exists()
    with pytest.raises(Error, match="append-only"), transaction.atomic():
        ActivityLog.objects.filter(pk=kept.id).delete()
    assert ActivityLog.objects.filter(pk=kept.id).exists()
