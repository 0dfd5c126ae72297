"""What only PostgreSQL has. Runs when DATABASE_URL points at PostgreSQL."""

import contextlib
import threading
import time

import pytest
from django.db import connection, transaction
from psycopg_pool import PoolTimeout

from activity import cursors
from activity.models import ActivityLog, NotificationCursor
from activity.notifications import services as notifications
from activity.notifications.runner import Notifier
from episode_metadata.common.context import ActivityContext, acting
from episodes import services
from realtime.hub import stop_hub
from realtime.presence import selectors as presence_selectors
from realtime.presence import services as presence
from realtime.webhooks import services as webhooks
from tests.test_realtime_ws import connect, make_user, receive, subscribe

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


@pytest.mark.django_db(transaction=True)
async def test_events_go_out_while_requests_hold_every_pooled_connection():
    """The hub reads the log on a connection of its own. Sharing the pool, its read waited
    for a free connection whenever the server was busy, and every socket's events with it."""
    user, token = await make_user(role="editor")
    ws = await connect(token)
    await subscribe(ws, ["episodes"])
    writer_ready, write, written, release = (threading.Event() for _ in range(4))

    def writer():
        try:
            connection.ensure_connection()
            writer_ready.set()
            write.wait(10)
            with acting(ActivityContext(source="api", get_user=lambda: user)):
                services.create_episode(user=user, data={"title": "Busy server"})
            written.set()
            release.wait(10)
        finally:
            connection.close()

    thread = threading.Thread(target=writer)
    thread.start()
    held = []
    try:
        assert writer_ready.wait(10)
        while True:  # the rest of the pool, as busy requests would hold it
            try:
                held.append(connection.pool.getconn(timeout=0.2))
            except PoolTimeout:
                break
        write.set()
        assert written.wait(10)

        frame = await receive(ws, timeout=3)

        assert frame["event"] == "episode_created"
        assert frame["data"]["episode"]["title"] == "Busy server"
    finally:
        for held_connection in held:
            connection.pool.putconn(held_connection)
        release.set()
        thread.join(10)
        await ws.disconnect()
        await stop_hub()


@contextlib.contextmanager
def held_elsewhere(table: str):
    """The cursor row of `table` locked by another connection, as another process's pass
    holds it."""
    other = connection.pool.getconn()
    try:
        with other.transaction():
            other.execute(f"SELECT 1 FROM {table} WHERE id = 1 FOR UPDATE")  # noqa: S608
            yield
    finally:
        connection.pool.putconn(other)


def waiting_on_locks() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("follow", "table"),
    [
        (notifications.deliver_pending, "activity_notificationcursor"),
        (webhooks.dispatch_pending, "realtime_webhookcursor"),
    ],
    ids=["notifier", "webhooks"],
)
def test_a_pass_finding_its_cursor_held_elsewhere_gives_way_at_once(user, follow, table):
    """Waiting for the holder would keep a pooled connection and a thread of every other
    process busy for as long as the holder's pass lasts. The webhooks' pass has an endpoint
    to send to: with none, it only moves the cursor, in one statement (test_webhooks)."""
    follow()  # the cursor row exists
    webhooks.create_endpoint(url="http://127.0.0.1:9/", event_types=["episode_deleted"])
    services.create_episode(user=user, data={"title": "While held"})
    with held_elsewhere(table), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL lock_timeout = '3s'")
        with pytest.raises(cursors.CursorTaken):
            follow()

    follow()  # once free, the next pass reads what was committed meanwhile
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT last_activity_id FROM {table} WHERE id = 1")  # noqa: S608
        assert cursor.fetchone()[0] == ActivityLog.objects.latest("id").id


@pytest.mark.django_db(transaction=True)
def test_a_notifier_that_gave_way_catches_up_as_soon_as_the_cursor_is_free(user):
    """Its process's commit woke it while another pass held the cursor, which may have read
    its batch before that commit: it looks again shortly instead of at the next poll."""
    notifications.deliver_pending()
    notifier = Notifier(poll_seconds=60)
    notifier.start()
    try:
        with held_elsewhere("activity_notificationcursor"):
            services.create_episode(user=user, data={"title": "Woke the notifier"})
            time.sleep(0.5)
            assert waiting_on_locks() == 0
        latest = ActivityLog.objects.latest("id").id
        deadline = time.monotonic() + 3
        while NotificationCursor.objects.get().last_activity_id < latest:
            assert time.monotonic() < deadline, "the notifier waited for its next poll"
            time.sleep(0.05)
    finally:
        notifier.stop()


def synchronous_commit() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)  # each block its own transaction, as in a worker
def test_a_workers_claims_and_answers_alone_commit_without_waiting_for_the_disk(user):
    """Activity ids keep commit order under a lock held to the end of each commit, so workers
    waited in turn for each other's WAL flushes. Their claims and answers no longer wait for
    the disk; every other write does, within the worker's process too."""
    from jobs import registry
    from jobs import services as jobs

    diagnostic = registry.get("diagnostic")
    for _ in range(2):
        jobs.enqueue(diagnostic, {})
    on_commit = []
    with transaction.atomic():
        job = jobs.claim(worker_id="w", queues=["default"])
        on_commit.append(synchronous_commit())
    with transaction.atomic():
        status, claimed = jobs.answer_then_claim(
            lambda: jobs.complete(job, None), worker_id="w", queues=["default"]
        )
        on_commit.append(synchronous_commit())
    assert (status, claimed is not None) == ("completed", True)
    assert on_commit == ["off", "off"]

    assert synchronous_commit() == "on"
    with transaction.atomic():
        services.create_episode(user=user, data={"title": "Waits for the disk"})
        assert synchronous_commit() == "on"


@pytest.mark.django_db(transaction=True)
def test_presence_commits_without_waiting_for_the_disk(user):
    """A viewing a crash of the database loses is recorded again at the viewer's next
    heartbeat or read; the transactions around it still wait for the disk."""
    episode = services.create_episode(user=user, data={"title": "Viewed"})
    with transaction.atomic():
        joined = presence.record(episode_id=episode.pk, user_id=user.pk, connection="tab")
        during = synchronous_commit()

    assert (joined, during) == (True, "off")
    assert synchronous_commit() == "on"
    viewers = presence_selectors.episode_viewers(episode_id=episode.pk)
    assert [viewer.id for viewer in viewers] == [user.pk]
