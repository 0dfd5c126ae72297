"""Every change through the API or the admin leaves exactly one activity row, in its own
transaction, and a failing activity log never fails the change."""

import asyncio
import logging
import os
import time
import uuid

import pytest
import redis
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connection, transaction

from activity.models import ActivityLog
from episode_metadata.common import counters
from episodes import services
from episodes.models import Episode
from realtime import broadcast, hub, wake_ups
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def only_entry(**filters) -> ActivityLog:
    entries = list(ActivityLog.objects.filter(**filters))
    assert len(entries) == 1, entries
    return entries[0]


def create(api, **fields):
    response = api.post("/api/v1/episodes/", {"title": "Pilot", **fields}, format="json")
    assert response.status_code == 201, response.json()
    return response


def test_create_records_a_snapshot_with_actor_and_request(api, user):
    response = create(api, season_number=1, episode_number=2)

    entry = only_entry()
    assert entry.action == "create"
    assert entry.actor == user
    assert entry.actor_label == "editor"
    assert entry.source == "api"
    assert entry.resource_type == "episode"
    assert entry.resource_id == response.json()["id"]
    assert str(entry.episode_id) == response.json()["id"]
    assert entry.resource_repr == "Pilot"
    assert entry.changes["title"] == "Pilot"
    assert entry.changes["episode_number"] == 2
    assert entry.request_id == response["X-Request-ID"]
    assert entry.ip_address == "127.0.0.1"


def test_update_records_only_changed_fields(api):
    episode_id = create(api).json()["id"]

    api.patch(f"/api/v1/episodes/{episode_id}/", {"title": "Pilot (final)", "status": "draft"})

    entry = only_entry(action="update")
    assert entry.changes == {"title": ["Pilot", "Pilot (final)"]}


def test_an_update_changing_nothing_records_nothing(api):
    episode_id = create(api).json()["id"]

    api.patch(f"/api/v1/episodes/{episode_id}/", {"title": "Pilot"})

    assert not ActivityLog.objects.filter(action="update").exists()


def test_soft_delete_and_restore_are_their_own_actions(api, user):
    episode_id = create(api).json()["id"]

    api.delete(f"/api/v1/episodes/{episode_id}/")
    api.post(f"/api/v1/episodes/{episode_id}/restore/")

    deleted = only_entry(action="delete")
    restored = only_entry(action="restore")
    assert deleted.changes["deleted_at"][0] is None
    assert deleted.changes["deleted_at"][1] is not None
    assert restored.changes["deleted_at"][1] is None
    assert deleted.actor == restored.actor == user


def test_hard_delete_records_the_last_snapshot(staff_api):
    episode_id = staff_api.post("/api/v1/episodes/", {"title": "Gone"}).json()["id"]

    staff_api.delete(f"/api/v1/episodes/{episode_id}/?hard=true")

    entry = only_entry(action="delete")
    assert entry.changes["title"] == "Gone"
    assert entry.resource_id == episode_id


def test_caller_request_id_is_kept_and_echoed(api):
    response = api.post("/api/v1/episodes/", {"title": "Traced"}, HTTP_X_REQUEST_ID="trace-42")

    assert response["X-Request-ID"] == "trace-42"
    assert only_entry().request_id == "trace-42"


def test_a_malformed_request_id_is_replaced(api):
    response = api.post("/api/v1/episodes/", {"title": "x"}, HTTP_X_REQUEST_ID="bad id\n" * 20)

    assert response["X-Request-ID"] != "bad id\n" * 20
    assert only_entry().request_id == response["X-Request-ID"]


def test_new_request_ids_are_distinct_version_4_uuids(api):
    given = {api.get("/api/v1/episodes/")["X-Request-ID"] for _ in range(50)}

    assert len(given) == 50
    assert {uuid.UUID(request_id).version for request_id in given} == {4}
    assert all(uuid.UUID(request_id).hex == request_id for request_id in given)


def test_failed_request_records_nothing(api):
    api.post("/api/v1/episodes/", {"title": ""}, format="json")

    assert not ActivityLog.objects.exists()


def test_admin_changes_are_logged_with_admin_source(client, django_user_model):
    boss = django_user_model.objects.create_superuser("boss", "b@example.com", PASSWORD)
    client.login(username="boss", password=PASSWORD)
    form = {"title": "From admin", "status": "draft", "categories": "[]", "description": ""}

    client.post("/admin/episodes/episode/add/", form)
    episode = Episode.objects.get(title="From admin")
    client.post(f"/admin/episodes/episode/{episode.pk}/change/", {**form, "status": "pending"})
    client.post(f"/admin/episodes/episode/{episode.pk}/delete/", {"post": "yes"})

    entries = list(ActivityLog.objects.order_by("id"))
    assert [e.action for e in entries] == ["create", "update", "delete"]
    assert {e.source for e in entries} == {"admin"}
    assert {e.actor for e in entries} == {boss}
    assert entries[1].changes == {"status": ["draft", "pending"]}


def test_rolled_back_change_leaves_no_row_and_no_event(user, django_capture_on_commit_callbacks):
    with (
        django_capture_on_commit_callbacks() as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        services.create_episode(user=user, data={"title": "Never"})
        raise RuntimeError("abort")

    assert not ActivityLog.objects.exists()
    assert not Episode.objects.exists()
    assert callbacks == []


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="REDIS_URL is not set")
@pytest.mark.django_db(transaction=True)
def test_committed_change_is_announced_to_other_processes(user):
    layer = get_channel_layer()

    async def listen_while_writing():
        channel = await layer.new_channel()
        await layer.group_add(hub.GROUP, channel)
        try:
            await database_sync_to_async(services.create_episode)(
                user=user, data={"title": "Announced"}
            )
            return await asyncio.wait_for(layer.receive(channel), 5)
        finally:
            await layer.group_discard(hub.GROUP, channel)

    message = async_to_sync(listen_while_writing)()

    assert message == {"type": "realtime.activity", "origin": hub.PROCESS_ID}


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="REDIS_URL is not set")
def test_a_wake_up_redis_refuses_is_counted_without_holding_up_the_write(settings):
    """Wake-ups are not waited for: Redis's refusal of one shows when the next goes out."""
    url = os.environ["REDIS_URL"]
    admin = redis.Redis.from_url(url)
    username = "episodes-test-no-publish"
    admin.acl_setuser(username, enabled=True, nopass=True, commands=["+@all", "-publish"])
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [url.replace("redis://", f"redis://{username}@", 1)]},
        }
    }
    before = counters.value(counters.BROADCAST_FAILURES)
    try:
        broadcast.announce_activity()
        assert counters.value(counters.BROADCAST_FAILURES) == before
        time.sleep(0.2)  # Redis's refusal arrives
        broadcast.announce_activity()
    finally:
        admin.acl_deluser(username)
    assert counters.value(counters.BROADCAST_FAILURES) == before + 1


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="REDIS_URL is not set")
def test_a_wake_up_connection_redis_closed_is_counted_and_replaced():
    admin = redis.Redis.from_url(os.environ["REDIS_URL"])
    listener = admin.pubsub()
    listener.subscribe(f"{settings.REDIS_PREFIX}__group__{hub.GROUP}")
    assert listener.get_message(timeout=1)["type"] == "subscribe"
    broadcast.announce_activity()
    assert listener.get_message(timeout=1)["type"] == "message"
    for client in admin.client_list():
        if client["name"] == wake_ups.CLIENT_NAME:
            admin.client_kill(client["addr"])
    time.sleep(0.2)  # the close reaches this side
    before = counters.value(counters.BROADCAST_FAILURES)

    broadcast.announce_activity()
    assert counters.value(counters.BROADCAST_FAILURES) == before + 1
    assert listener.get_message(timeout=0.2) is None

    broadcast._broken_until = 0.0  # the back-off after the failure, over
    broadcast.announce_activity()
    assert listener.get_message(timeout=1)["type"] == "message"
    assert counters.value(counters.BROADCAST_FAILURES) == before + 1
    listener.close()


def test_write_succeeds_when_the_activity_insert_fails(api, caplog):
    before = counters.value(counters.ACTIVITY_WRITE_FAILURES)
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE activity_activitylog RENAME TO activity_activitylog_away")
    try:
        with caplog.at_level(logging.ERROR):
            response = api.post("/api/v1/episodes/", {"title": "Still saved"}, format="json")
    finally:
        with connection.cursor() as cursor:
            cursor.execute("ALTER TABLE activity_activitylog_away RENAME TO activity_activitylog")

    assert response.status_code == 201
    assert Episode.objects.filter(title="Still saved").exists()
    assert not ActivityLog.objects.exists()
    assert counters.value(counters.ACTIVITY_WRITE_FAILURES) == before + 1
    assert "activity log write failed for create episode" in caplog.text


REFUSE_ACTIVITY = {
    "sqlite": [
        "CREATE TRIGGER refuse_activity BEFORE INSERT ON activity_activitylog "
        "BEGIN SELECT RAISE(ABORT, 'activity refused'); END"
    ],
    "postgresql": [
        "CREATE FUNCTION refuse_activity() RETURNS trigger AS $$ "
        "BEGIN RAISE EXCEPTION 'activity refused'; END; $$ LANGUAGE plpgsql",
        "CREATE TRIGGER refuse_activity BEFORE INSERT ON activity_activitylog "
        "FOR EACH ROW EXECUTE FUNCTION refuse_activity()",
    ],
}


def test_write_succeeds_when_the_database_refuses_the_activity_row(api, caplog):
    """A statement that fails while running, after the change's own INSERT in the same
    transaction: the change must survive it on both databases."""
    with connection.cursor() as cursor:
        for statement in REFUSE_ACTIVITY[connection.vendor]:
            cursor.execute(statement)

    with caplog.at_level(logging.ERROR):
        response = api.post("/api/v1/episodes/", {"title": "Kept"}, format="json")
        renamed = api.patch(
            f"/api/v1/episodes/{response.json()['id']}/", {"title": "Kept 2"}, format="json"
        )

    assert (response.status_code, renamed.status_code) == (201, 200)
    assert Episode.objects.get().title == "Kept 2"
    assert not ActivityLog.objects.exists()
    assert caplog.text.count("activity log write failed") == 2


# Ways the database throws the writer's whole transaction away during the activity INSERT:
# SQLite does so on a full disk or an I/O error (RAISE(ROLLBACK) does the same); with
# PostgreSQL, the connection can drop.
LOSE_TRANSACTION = {
    "sqlite": [
        "CREATE TRIGGER lose_transaction BEFORE INSERT ON activity_activitylog "
        "BEGIN SELECT RAISE(ROLLBACK, 'disk full'); END"
    ],
    "postgresql": [
        "CREATE FUNCTION lose_transaction() RETURNS trigger AS $$ "
        "BEGIN PERFORM pg_terminate_backend(pg_backend_pid()); RETURN NEW; END; "
        "$$ LANGUAGE plpgsql",
        "CREATE TRIGGER lose_transaction BEFORE INSERT ON activity_activitylog "
        "FOR EACH ROW EXECUTE FUNCTION lose_transaction()",
    ],
}

FIND_TRANSACTION = {
    "sqlite": ["DROP TRIGGER lose_transaction"],
    "postgresql": [
        "DROP TRIGGER lose_transaction ON activity_activitylog",
        "DROP FUNCTION lose_transaction()",
    ],
}


@pytest.mark.django_db(transaction=True)
def test_a_transaction_the_database_threw_away_is_not_reported_as_saved(api, caplog):
    """The episode's INSERT went with the transaction, so answering 201 would lose it silently."""
    with connection.cursor() as cursor:
        for statement in LOSE_TRANSACTION[connection.vendor]:
            cursor.execute(statement)
    api.raise_request_exception = False
    try:
        response = api.post("/api/v1/episodes/", {"title": "Lost"}, format="json")
    finally:
        connection.close()  # PostgreSQL's is gone
        with connection.cursor() as cursor:
            for statement in FIND_TRANSACTION[connection.vendor]:
                cursor.execute(statement)
    later = api.post("/api/v1/episodes/", {"title": "Later"}, format="json")

    assert response.status_code == 500
    assert "dropped the whole transaction: the change is not saved" in caplog.text
    assert later.status_code == 201
    assert list(Episode.objects.values_list("title", flat=True)) == ["Later"]


UNREACHABLE_REDIS = {
    "default": {
        "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
        "CONFIG": {"hosts": ["redis://127.0.0.1:1/0"]},
    }
}


def test_write_succeeds_promptly_when_the_channel_layer_is_down(
    api, settings, django_capture_on_commit_callbacks
):
    settings.CHANNEL_LAYERS = UNREACHABLE_REDIS
    before = counters.value(counters.BROADCAST_FAILURES)

    with django_capture_on_commit_callbacks(execute=True):
        first = api.post("/api/v1/episodes/", {"title": "One"}, format="json")
    with django_capture_on_commit_callbacks(execute=True):
        second = api.post("/api/v1/episodes/", {"title": "Two"}, format="json")

    assert (first.status_code, second.status_code) == (201, 201)
    assert ActivityLog.objects.count() == 2
    # The failure is counted, and publishing pauses instead of failing every write.
    deadline = time.monotonic() + 5
    while counters.value(counters.BROADCAST_FAILURES) == before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert counters.value(counters.BROADCAST_FAILURES) > before


def test_saving_one_instance_twice_records_each_change_once(user):
    created = services.create_episode(user=user, data={"title": "Twice"})
    episode = Episode.objects.get(pk=created.pk)

    services.update_episode(episode, user=user, data={"title": "Twice 2"})
    services.update_episode(episode, user=user, data={"status": "pending"})

    updates = [e.changes for e in ActivityLog.objects.filter(action="update").order_by("id")]
    assert updates == [{"title": ["Twice", "Twice 2"]}, {"status": ["draft", "pending"]}]


def test_a_partly_loaded_instance_diffs_only_what_it_loaded(user):
    created = services.create_episode(user=user, data={"title": "Partial", "description": "kept"})
    episode = Episode.objects.only("id", "title").get(pk=created.pk)

    episode.title = "Partial 2"
    episode.save(update_fields=["title"])

    assert only_entry(action="update").changes == {"title": ["Partial", "Partial 2"]}
    assert Episode.objects.get(pk=created.pk).description == "kept"


def test_in_place_changes_to_json_lists_are_seen(user):
    created = services.create_episode(user=user, data={"title": "Tags", "categories": ["a"]})
    episode = Episode.objects.get(pk=created.pk)

    episode.categories.append("b")
    episode.save()

    assert only_entry(action="update").changes == {"categories": [["a"], ["a", "b"]]}


def _inserts(queries) -> int:
    return sum('INSERT INTO "activity_activitylog"' in query["sql"] for query in queries)


def test_rows_written_together_go_in_one_insert_in_the_order_recorded(user):
    from django.test.utils import CaptureQueriesContext

    from activity import services as activity_services

    with (
        transaction.atomic(),
        CaptureQueriesContext(connection) as queries,
        activity_services.written_together() as held,
    ):
        first = services.create_episode(user=user, data={"title": "First"})
        services.update_episode(first, user=user, data={"title": "First, renamed"})
        assert ActivityLog.objects.count() == 0  # held until the block ends
        assert [entry.pk for entry in held] == [None, None]

    assert _inserts(queries.captured_queries) == 1
    rows = list(ActivityLog.objects.order_by("id"))
    assert [(row.action, row.id) for row in rows] == [(e.action, e.pk) for e in held]
    assert [row.action for row in rows] == ["create", "update"]


def test_rows_held_by_a_block_that_raises_are_not_written(user):
    from activity import services as activity_services

    with pytest.raises(RuntimeError), activity_services.written_together():
        services.create_episode(user=user, data={"title": "Gone"})
        raise RuntimeError("the caller gave up")

    assert Episode.objects.filter(title="Gone").exists()  # no transaction of its own here
    assert not ActivityLog.objects.exists()


def test_rows_written_together_that_the_database_refuses_leave_the_changes(user, caplog):
    from activity import services as activity_services

    with connection.cursor() as cursor:
        for statement in REFUSE_ACTIVITY[connection.vendor]:
            cursor.execute(statement)

    with transaction.atomic(), activity_services.written_together():
        first = services.create_episode(user=user, data={"title": "Kept"})
        services.update_episode(first, user=user, data={"title": "Kept 2"})

    assert Episode.objects.get().title == "Kept 2"
    assert not ActivityLog.objects.exists()
    assert caplog.text.count("activity log write failed") == 2
