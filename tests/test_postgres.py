"""What only PostgreSQL has. Runs when DATABASE_URL points at PostgreSQL."""

import threading

import pytest
from django.db import connection, transaction

from activity.models import ActivityLog
from episodes import services

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="DATABASE_URL is not a PostgreSQL database"
    ),
]


def test_category_filter_has_a_gin_index():
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'episode_categories_gin'")
        row = cursor.fetchone()

    assert row is not None
    assert "gin" in row[0].lower()


def test_connections_come_from_a_pool():
    assert connection.pool is not None


@pytest.mark.django_db(transaction=True)
def test_activity_ids_follow_commit_order(user):
    """A reader tailing the log by id must never find id N+1 committed while N is still
    pending: a row recorded early in a transaction that commits late gets the later id,
    and no writer waits for another to commit."""
    first_recorded, second_done = threading.Event(), threading.Event()
    commits = []

    def first_writer():
        try:
            with transaction.atomic():
                services.create_episode(user=user, data={"title": "First"})
                first_recorded.set()
                second_done.wait(10)
            commits.append("First")
        finally:
            connection.close()

    def second_writer():
        try:
            first_recorded.wait(10)
            services.create_episode(user=user, data={"title": "Second"})
            commits.append("Second")
            second_done.set()
        finally:
            connection.close()

    threads = [threading.Thread(target=first_writer), threading.Thread(target=second_writer)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(15)

    assert commits == ["Second", "First"]  # the second did not wait for the first
    by_id = [entry.resource_repr for entry in ActivityLog.objects.order_by("id")]
    assert by_id == ["Second", "First"]
