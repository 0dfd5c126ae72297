"""Notifications: who gets which, the API over one's own inbox, preferences and pruning."""

import re
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from activity import events
from activity.models import Action, ActivityLog, Notification, NotificationCursor
from activity.notifications import services
from activity.notifications.selectors import UNREAD_COUNT_CAP
from episodes.models import EpisodeFile
from jobs import execution, registry
from jobs import services as job_services
from jobs.models import Job, JobStatus
from tests.conftest import bearer_client, with_role

pytestmark = pytest.mark.django_db

EPISODES = "/api/v1/episodes/"
NOTIFICATIONS = "/api/v1/notifications/"


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture(autouse=True)
def _cursor_from_now():
    """Notifications start from the log as it stands, as on a fresh deployment."""
    services.deliver_pending()


@pytest.fixture
def people(django_user_model):
    def make(name, **extra):
        user = django_user_model.objects.create_user(name, password="pw-long-enough-1", **extra)
        return with_role(user, "approver"), bearer_client(user)

    return {
        "writer": make("writer"),
        "editor": make("editor"),
        "follower": make("follower"),
        "bystander": make("bystander"),
        "producer": make("producer", is_staff=True),
    }


def inbox(user) -> list[tuple[str, str]]:
    rows = Notification.objects.filter(recipient=user).order_by("id")
    return [(n.type, n.title) for n in rows]


def types_for(user) -> list[str]:
    return [kind for kind, _ in inbox(user)]


def create_episode(client, title="Pilot") -> dict:
    response = client.post(EPISODES, {"title": title}, format="json")
    assert response.status_code == 201
    return response.json()


def test_a_new_episode_tells_the_staff_but_not_its_creator(people, django_user_model):
    writer, writer_api = people["writer"]
    producer, producer_api = people["producer"]
    create_episode(writer_api, "Pilot")
    create_episode(producer_api, "Finale")

    services.deliver_pending()

    assert inbox(producer) == [("episode_created", "New episode: Pilot")]
    assert inbox(writer) == []
    assert inbox(people["bystander"][0]) == []


def test_changes_tell_creator_past_editors_and_followers_never_the_actor(people):
    writer, writer_api = people["writer"]
    editor, editor_api = people["editor"]
    follower, follower_api = people["follower"]
    episode = create_episode(writer_api)
    url = f"{EPISODES}{episode['id']}/"
    assert follower_api.post(f"{url}follow/").status_code == 201
    editor_api.patch(url, {"status": "pending"}, format="json")
    services.deliver_pending()
    writer_api.patch(url, {"title": "Pilot (final cut)"}, format="json")

    services.deliver_pending()

    assert types_for(writer) == ["episode_updated"]  # the editor's change, not their own
    assert types_for(editor) == ["episode_updated"]  # the writer's change
    assert types_for(follower) == ["episode_updated", "episode_updated"]
    assert inbox(people["bystander"][0]) == []
    latest = Notification.objects.filter(recipient=follower).latest("id")
    assert latest.message == "writer changed title."
    assert latest.data["episode_id"] == episode["id"]
    assert latest.data["activity_id"] > 0


def test_a_deletion_is_high_priority_and_unfollowing_stops_notifications(people):
    writer, writer_api = people["writer"]
    follower, follower_api = people["follower"]
    episode = create_episode(writer_api)
    url = f"{EPISODES}{episode['id']}/"
    follower_api.post(f"{url}follow/")
    assert follower_api.get(f"{url}follow/").json() == {"following": True}
    assert follower_api.delete(f"{url}follow/").status_code == 204
    assert follower_api.get(f"{url}follow/").json() == {"following": False}
    follower_api.post(f"{url}follow/")
    people["editor"][1].delete(url)

    services.deliver_pending()

    [deleted] = Notification.objects.filter(recipient=follower)
    assert (deleted.type, deleted.priority) == ("episode_deleted", "high")
    assert types_for(writer) == ["episode_deleted"]


def test_nobody_is_told_of_what_their_role_no_longer_lets_them_read(people):
    _, writer_api = people["writer"]
    follower, follower_api = people["follower"]
    episode = create_episode(writer_api)
    url = f"{EPISODES}{episode['id']}/"
    assert follower_api.post(f"{url}follow/").status_code == 201
    follower.groups.clear()

    writer_api.patch(url, {"title": "Pilot (final cut)"}, format="json")
    services.deliver_pending()

    assert inbox(follower) == []


def test_muted_types_are_not_delivered(people):
    _, writer_api = people["writer"]
    follower, follower_api = people["follower"]
    episode = create_episode(writer_api)
    follower_api.post(f"{EPISODES}{episode['id']}/follow/")
    response = follower_api.put(
        f"{NOTIFICATIONS}preferences/", {"muted_types": ["episode_updated"]}, format="json"
    )
    assert response.status_code == 200
    writer_api.patch(f"{EPISODES}{episode['id']}/", {"status": "pending"}, format="json")
    writer_api.delete(f"{EPISODES}{episode['id']}/")

    services.deliver_pending()

    assert types_for(follower) == ["episode_deleted"]
    assert follower_api.get(f"{NOTIFICATIONS}preferences/").json()["muted_types"] == [
        "episode_updated"
    ]


def test_preferences_refuse_unknown_types(api):
    response = api.put(f"{NOTIFICATIONS}preferences/", {"muted_types": ["gossip"]}, format="json")

    assert response.status_code == 400
    assert "muted_types" in response.json()


def test_a_job_tells_its_creator_when_it_completes_or_fails_for_good(people):
    writer, writer_api = people["writer"]
    done = writer_api.post("/api/v1/jobs/", {"job_type": "diagnostic"}, format="json").json()
    failing = writer_api.post(
        "/api/v1/jobs/",
        {"job_type": "diagnostic", "payload": {"fail_attempts": 5}, "max_attempts": 2},
        format="json",
    ).json()
    for _ in range(3):
        job = job_services.claim(worker_id="test", queues=["default"])
        if job is not None:
            execution.run_claimed(job)
        Job.objects.filter(status=JobStatus.RETRY_SCHEDULED).update(run_after=timezone.now())

    services.deliver_pending()

    assert Job.objects.get(pk=failing["id"]).status == JobStatus.FAILED
    rows = Notification.objects.filter(recipient=writer).order_by("id")
    assert [(n.type, n.data["resource_id"]) for n in rows] == [
        ("job_completed", done["id"]),
        ("job_failed", failing["id"]),
    ]
    assert rows[1].priority == "high"
    assert "after 2 attempts" in rows[1].message


def test_jobs_nobody_started_are_passed_over_without_a_lookup_each():
    def deliver_after_jobs(count: int) -> int:
        for _ in range(count):
            job_services.enqueue(registry.get("diagnostic"), {})
            execution.run_claimed(job_services.claim(worker_id="test", queues=["default"]))
        with CaptureQueriesContext(connection) as queries:
            services.deliver_pending()
        return len(queries)

    assert deliver_after_jobs(5) == deliver_after_jobs(1)
    assert not Notification.objects.exists()


def test_a_pass_reads_its_recipients_with_their_permissions(people):
    """Whoever an update concerns is asked whether they may read it: their permissions come
    in the one query that reads them all, not one query each."""

    def queries_to_tell_those_who_changed_it(changed_by: list[str]) -> tuple[int, int]:
        episode = create_episode(people["writer"][1])
        url = f"{EPISODES}{episode['id']}/"
        for name in changed_by:
            people[name][1].patch(url, {"description": f"By {name}"}, format="json")
        services.deliver_pending()
        told = Notification.objects.count()
        people["bystander"][1].patch(url, {"title": "Changed once more"}, format="json")
        with CaptureQueriesContext(connection) as queries:
            services.deliver_pending()
        return len(queries), Notification.objects.count() - told

    alone = queries_to_tell_those_who_changed_it([])
    three = queries_to_tell_those_who_changed_it(["editor", "follower"])

    assert (alone[1], three[1]) == (1, 3)
    assert three[0] == alone[0]


def test_a_pass_loads_whole_only_the_activity_a_rule_applies_to(django_assert_num_queries):
    for _ in range(2):
        job_services.enqueue(registry.get("diagnostic"), {})
        execution.run_claimed(job_services.claim(worker_id="test", queues=["default"]))
    completions = ActivityLog.objects.filter(resource_type="job", action=Action.COMPLETE)
    assert ActivityLog.objects.filter(resource_type="job").count() > completions.count()

    # Whether there is news after the cursor, the savepoint, the lock, the batch's ids, the rows
    # with a rule, the cursor moved, the savepoint released.
    with django_assert_num_queries(7) as queries:
        services.deliver_pending()

    [loaded] = [q["sql"] for q in queries if '"activity_activitylog"."metadata"' in q["sql"]]
    ids = re.search(r'"activity_activitylog"\."id" IN \(([^)]*)\)', loaded).group(1)
    assert {int(pk) for pk in ids.split(",")} == set(completions.values_list("pk", flat=True))


def test_housekeeping_jobs_tell_their_creator_only_when_they_fail(people, settings):
    writer, writer_api = people["writer"]
    episode = create_episode(writer_api)
    uploaded = []
    for name in ("intact.txt", "damaged.txt"):
        part = SimpleUploadedFile(name, b"FADE IN:\n", content_type="text/plain")
        url = f"{EPISODES}{episode['id']}/files/"
        uploaded.append(writer_api.post(url, {"file": part}, format="multipart").json())
    damaged = EpisodeFile.objects.get(pk=uploaded[1]["id"])
    (settings.MEDIA_ROOT / damaged.file.name).write_bytes(b"something else\n")
    Job.objects.filter(job_type="file_metadata").update(max_attempts=1)

    while (job := job_services.claim(worker_id="test", queues=["default"])) is not None:
        execution.run_claimed(job)
    services.deliver_pending()

    [failed] = Notification.objects.filter(recipient=writer)
    assert failed.type == "job_failed"
    assert failed.data["resource_id"] == uploaded[1]["metadata_job"]


def test_an_upload_tells_the_people_concerned(people):
    writer, writer_api = people["writer"]
    editor, editor_api = people["editor"]
    episode = create_episode(writer_api)
    part = SimpleUploadedFile("notes.txt", b"FADE IN:\n", content_type="text/plain")
    editor_api.post(f"{EPISODES}{episode['id']}/files/", {"file": part}, format="multipart")

    services.deliver_pending()

    assert inbox(writer) == [("file_uploaded", "New file: notes.txt")]
    assert inbox(editor) == []


def test_delivery_is_exactly_once_however_often_it_runs(people):
    _, writer_api = people["writer"]
    producer, _ = people["producer"]
    create_episode(writer_api)

    services.deliver_pending()
    services.deliver_pending()

    assert Notification.objects.filter(recipient=producer).count() == 1
    assert NotificationCursor.objects.get().last_activity_id > 0


@pytest.mark.django_db(transaction=True)
def test_a_failing_notifier_neither_breaks_the_write_nor_loses_the_notification(people):
    _, writer_api = people["writer"]
    producer, _ = people["producer"]
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE activity_notification RENAME TO activity_notification_away")
    try:
        response = writer_api.post(EPISODES, {"title": "Written anyway"}, format="json")
        with pytest.raises(Exception):  # noqa: B017 - whatever the database says
            services.deliver_pending()
    finally:
        with connection.cursor() as cursor:
            cursor.execute("ALTER TABLE activity_notification_away RENAME TO activity_notification")

    assert response.status_code == 201
    services.deliver_pending()
    assert inbox(producer) == [("episode_created", "New episode: Written anyway")]


def test_a_failing_activity_listener_is_logged_and_breaks_neither_the_write_nor_the_others(
    people, caplog, django_capture_on_commit_callbacks
):
    _, writer_api = people["writer"]
    heard = []

    class Failing(events.Listener):
        def activity_committed(self, entry):
            raise RuntimeError("listener down")

    class Hearing(events.Listener):
        def activity_committed(self, entry):
            heard.append(entry.resource_repr)

    failing, hearing = Failing(), Hearing()
    events.plug(failing)
    events.plug(hearing)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            response = writer_api.post(EPISODES, {"title": "Heard anyway"}, format="json")
    finally:
        events.unplug(failing)
        events.unplug(hearing)

    assert response.status_code == 201
    assert heard == ["Heard anyway"]
    assert "listener down" in caplog.text


def test_the_inbox_is_ones_own(people):
    _, writer_api = people["writer"]
    producer, producer_api = people["producer"]
    create_episode(writer_api)
    services.deliver_pending()
    theirs = Notification.objects.get(recipient=producer)
    url = f"{NOTIFICATIONS}{theirs.pk}/"

    assert writer_api.get(NOTIFICATIONS).json()["results"] == []
    assert writer_api.get(url).status_code == 404
    assert writer_api.post(f"{url}read/").status_code == 404
    assert writer_api.delete(url).status_code == 404
    assert producer_api.get(url).status_code == 200
    assert Notification.objects.get(pk=theirs.pk).read_at is None


def test_list_filters_read_and_delete(people):
    _, api = people["producer"]
    _, writer_api = people["writer"]
    for title in ("One", "Two", "Three"):
        create_episode(writer_api, title)
    services.announce(sender=people["writer"][0], title="Standup at 10", message="")
    services.deliver_pending()

    listed = api.get(NOTIFICATIONS).json()["results"]
    announcements = api.get(NOTIFICATIONS, {"type": "announcement"}).json()["results"]
    assert [n["title"] for n in listed] == [
        "New episode: Three",
        "New episode: Two",
        "New episode: One",
        "Standup at 10",
    ]
    assert [n["title"] for n in announcements] == ["Standup at 10"]
    assert api.get(f"{NOTIFICATIONS}unread-count/").json() == {"unread": 4, "capped": False}

    first = listed[0]["id"]
    read = api.post(f"{NOTIFICATIONS}{first}/read/")
    assert read.status_code == 200 and read.json()["read_at"] is not None
    unread = api.get(NOTIFICATIONS, {"unread": "true"}).json()["results"]
    assert first not in [n["id"] for n in unread] and len(unread) == 3
    assert api.delete(f"{NOTIFICATIONS}{unread[0]['id']}/").status_code == 204
    assert api.get(f"{NOTIFICATIONS}unread-count/").json()["unread"] == 2
    assert api.post(f"{NOTIFICATIONS}read-all/").json() == {"unread": 0, "capped": False}
    assert api.get(NOTIFICATIONS, {"unread": "true"}).json()["results"] == []
    assert api.get(NOTIFICATIONS, {"type": "nonsense"}).status_code == 400


def test_the_unread_count_stops_at_its_cap(people):
    producer, api = people["producer"]
    Notification.objects.bulk_create(
        Notification(recipient=producer, type="announcement", title=f"n{i}")
        for i in range(UNREAD_COUNT_CAP + 5)
    )

    assert api.get(f"{NOTIFICATIONS}unread-count/").json() == {
        "unread": UNREAD_COUNT_CAP,
        "capped": True,
    }


def test_staff_announce_to_chosen_users_or_everyone(people):
    producer, producer_api = people["producer"]
    writer, writer_api = people["writer"]
    editor, _ = people["editor"]
    people["follower"][1].put(
        f"{NOTIFICATIONS}preferences/", {"muted_types": ["announcement"]}, format="json"
    )

    chosen = producer_api.post(
        NOTIFICATIONS,
        {"title": "Script lock", "message": "Friday 17:00", "recipients": [writer.pk]},
        format="json",
    )
    everyone = producer_api.post(
        NOTIFICATIONS, {"title": "Office closed", "priority": "critical"}, format="json"
    )
    quiet = producer_api.post(NOTIFICATIONS, {"title": "Cake in the kitchen"}, format="json")
    refused = writer_api.post(NOTIFICATIONS, {"title": "Hi all"}, format="json")
    invalid = producer_api.post(NOTIFICATIONS, {"priority": "urgent!"}, format="json")

    assert chosen.status_code == 201 and chosen.json() == {"recipients": 1}
    assert everyone.json() == {"recipients": 4}  # critical: even the one who muted them
    assert quiet.json() == {"recipients": 3}
    assert refused.status_code == 403
    assert invalid.status_code == 400
    assert set(invalid.json()) == {"title", "priority"}
    assert [title for _, title in inbox(writer)] == [
        "Script lock",
        "Office closed",
        "Cake in the kitchen",
    ]
    assert inbox(producer) == []
    assert [title for _, title in inbox(people["follower"][0])] == ["Office closed"]
    assert [title for _, title in inbox(editor)] == ["Office closed", "Cake in the kitchen"]


def test_expired_notifications_are_hidden_and_pruned_with_old_read_ones(people, capsys):
    producer, api = people["producer"]
    now = timezone.now()
    Notification.objects.bulk_create(
        [
            Notification(recipient=producer, type="announcement", title="expired",
                         expires_at=now - timedelta(minutes=1)),
            Notification(recipient=producer, type="announcement", title="old read",
                         read_at=now, created_at=now - timedelta(days=40)),
            Notification(recipient=producer, type="announcement", title="old unread",
                         created_at=now - timedelta(days=40)),
            Notification(recipient=producer, type="announcement", title="fresh"),
        ]
    )  # fmt: skip
    assert [n["title"] for n in api.get(NOTIFICATIONS).json()["results"]] == [
        "fresh",
        "old unread",
        "old read",
    ]

    call_command("prune_notifications", "--dry-run")
    assert "Would delete 2 notifications." in capsys.readouterr().out
    assert Notification.objects.count() == 4
    call_command("prune_notifications", "--read-older-than", "30")

    assert "Deleted 2 notifications." in capsys.readouterr().out
    assert sorted(Notification.objects.values_list("title", flat=True)) == ["fresh", "old unread"]


def test_following_needs_a_live_episode(api):
    missing = api.post(f"{EPISODES}00000000-0000-0000-0000-000000000000/follow/")
    malformed = api.post(f"{EPISODES}nope/follow/")

    assert missing.status_code == 404
    assert malformed.status_code == 404


def test_notifications_need_authentication(anon):
    assert anon.get(NOTIFICATIONS).status_code == 401
    assert anon.get(f"{NOTIFICATIONS}unread-count/").status_code == 401
