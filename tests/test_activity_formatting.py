"""Activity rows as people read them, the same in the admin, the REST API and the live events:
names for user ids (one query for a whole page), labels for fields, choices by their labels,
lists as lists, dates as dates."""

from datetime import datetime, timedelta

import pytest

from activity import formatting
from activity.models import ActivityLog
from episode_metadata.common.context import ActivityContext, acting
from episodes import services
from episodes.files import services as file_services
from episodes.models import Episode
from realtime import events
from realtime import selectors as realtime_selectors
from tests.conftest import PASSWORD, with_role

pytestmark = pytest.mark.django_db

ADMIN = "/admin/activity/activitylog/"


@pytest.fixture
def alice(django_user_model):
    return with_role(django_user_model.objects.create_user("alice", password=PASSWORD), "approver")


@pytest.fixture
def bob(django_user_model):
    return with_role(django_user_model.objects.create_user("bob", password=PASSWORD), "approver")


def as_user(user):
    """Acting as `user` over the API, as the request's middleware would have it."""
    return acting(ActivityContext(source="api", get_user=lambda: user))


@pytest.fixture
def changed(alice, bob) -> ActivityLog:
    """Alice's episode, which Bob then changed."""
    with as_user(alice):
        episode = services.create_episode(
            user=alice, data={"title": "Pilot", "categories": ["drama"]}
        )
    with as_user(bob):
        services.update_episode(
            episode,
            user=bob,
            data={
                "categories": ["drama", "coastal"],
                "status": "pending",
                "air_date": "2026-12-01",
            },
        )
    return ActivityLog.objects.get(action="update")


def by_field(field_changes) -> dict[str, tuple]:
    return {c["field"]: (c["label"], c["before"], c["after"]) for c in field_changes}


def test_an_update_reads_with_names_labels_lists_and_dates(changed):
    described = formatting.description(changed)

    assert described.text == "bob updated episode “Pilot”"
    assert described.verb == "updated"
    assert by_field(described.fields) == {
        "updated_by": ("updated by", "alice", "bob"),
        "categories": ("categories", "drama", "drama, coastal"),
        "status": ("status", "Draft", "Pending"),
        "air_date": ("air date", "—", "1 Dec 2026"),
    }


def test_a_mapping_reads_as_key_value_pairs():
    result = {
        "checksum_verified": True,
        "width": 640,
        "codec": None,
        "formats": {"youtube": {"width": 1280, "height": 720}},
        "tags": ["sea", "night"],
    }
    row = ActivityLog.objects.create(
        action="update",
        resource_type="job",
        resource_id="1",
        changes={
            "result": [None, result],
            "payload": [{"seconds": 3}, [{"a": 1, "b": 2}, {"c": 3}]],
        },
    )

    fields = by_field(formatting.description(row).fields)

    assert fields["result"] == (
        "result",
        "—",
        "checksum verified: yes, width: 640, codec: —, "
        "formats: youtube: (width: 1280, height: 720), tags: (sea, night)",
    )
    assert fields["payload"][1:] == ("seconds: 3", "a: 1, b: 2; c: 3")


@pytest.fixture
def deleted() -> ActivityLog:
    """An episode deleted at 14:03:12 UTC on 6 December 2026, as its row records it."""
    return ActivityLog.objects.create(
        action="delete",
        resource_type="episode",
        resource_id="1",
        resource_repr="Pilot",
        changes={"deleted_at": [None, "2026-12-06T14:03:12.123Z"], "title": ["Pilot", "Pilot"]},
    )


def test_a_moment_stays_an_instant_for_each_reader_to_show_in_their_zone(deleted, api):
    expected = {
        "field": "deleted_at",
        "label": "deleted at",
        "kind": "datetime",
        "before": "—",
        "after": "2026-12-06T14:03:12.123000+00:00",
    }

    row = api.get("/api/v1/activities/", {"action": "delete"}).json()["results"][0]
    data = events.event_data(deleted)

    assert expected in row["field_changes"]
    assert expected in data["field_changes"]
    title = next(c for c in row["field_changes"] if c["field"] == "title")
    assert (title["kind"], title["after"]) == ("text", "Pilot")


def test_a_deleted_episodes_row_names_the_moment_it_was_deleted(alice):
    episode = services.create_episode(user=alice, data={"title": "Pilot"})
    services.soft_delete_episode(episode, user=alice)
    row = ActivityLog.objects.get(action="delete")

    change = next(c for c in formatting.description(row).fields if c["field"] == "deleted_at")

    assert change["kind"] == "datetime"
    moment = datetime.fromisoformat(change["after"])
    assert abs(moment - Episode.objects.get(pk=episode.pk).deleted_at) < timedelta(milliseconds=1)


def test_the_admin_shows_a_moment_in_words_in_the_services_zone(
    client, django_user_model, deleted, settings
):
    django_user_model.objects.create_superuser("boss", "boss@example.com", PASSWORD)
    client.login(username="boss", password=PASSWORD)

    assert "deleted at: — → 6 Dec 2026 14:03 UTC" in client.get(ADMIN).text
    page = client.get(f"{ADMIN}{deleted.pk}/change/").text
    assert "<td>deleted at</td><td>—</td><td>6 Dec 2026 14:03 UTC</td>" in page

    settings.TIME_ZONE = "Europe/Paris"
    assert "deleted at: — → 6 Dec 2026 15:03 CET" in client.get(ADMIN).text


def test_a_created_record_has_values_after_only(changed, alice):
    created = formatting.description(ActivityLog.objects.get(action="create"))

    fields = by_field(created.fields)
    assert fields["created_by"] == ("created by", None, "alice")
    assert fields["deleted_at"] == ("deleted at", None, "—")
    assert created.text == "alice created episode “Pilot”"


def test_a_page_of_rows_names_its_users_in_one_query(
    django_user_model, alice, django_assert_num_queries
):
    for number in range(5):
        author = django_user_model.objects.create_user(f"author{number}")
        episode = services.create_episode(user=alice, data={"title": f"Episode {number}"})
        services.update_episode(episode, user=author, data={"description": "new"})
    rows = list(ActivityLog.objects.all())

    with django_assert_num_queries(1):
        formatting.describe_rows(rows)

    updates = [row for row in rows if row.action == "update"]
    names = {by_field(formatting.description(row).fields)["updated_by"][2] for row in updates}
    assert names == {f"author{number}" for number in range(5)}


def test_the_rest_rows_carry_the_words(changed, api, alice):
    row = api.get("/api/v1/activities/", {"action": "update"}).json()["results"][0]

    assert row["description"] == "bob updated episode “Pilot”"
    assert row["verb"] == "updated"
    assert {
        "field": "updated_by",
        "label": "updated by",
        "kind": "user",
        "before": "alice",
        "after": "bob",
    } in row["field_changes"]


def test_downloads_can_be_left_out(changed, api):
    episode_file = file_services.store_generated_file(
        episode=Episode.objects.get(pk=changed.resource_id),
        name="notes.txt",
        content=b"take one",
        content_type="text/plain",
    )
    file_services.record_download(episode_file)

    actions = [
        row["action"]
        for row in api.get("/api/v1/activities/", {"exclude_action": "download"}).json()["results"]
    ]
    bad = api.get("/api/v1/activities/", {"exclude_action": "nonsense"})

    assert "download" not in actions and "upload" in actions
    assert bad.status_code == 400 and "exclude_action" in bad.json()


def test_live_events_carry_the_words_and_read_names_once(changed, django_assert_num_queries):
    with django_assert_num_queries(2):  # the rows, and the names they mention
        rows = realtime_selectors.activity_after(0, limit=100)

    data = events.event_data(next(row for row in rows if row.action == "update"))
    assert data["description"] == "bob updated episode “Pilot”"
    assert by_field(data["field_changes"])["updated_by"] == ("updated by", "alice", "bob")


def test_the_admin_shows_the_words(client, django_user_model, changed):
    django_user_model.objects.create_superuser("boss", "boss@example.com", PASSWORD)
    client.login(username="boss", password=PASSWORD)

    listing = client.get(ADMIN).text
    page = client.get(f"{ADMIN}{changed.pk}/change/").text

    assert "bob updated episode “Pilot”" in listing
    assert "updated by: alice → bob" in listing
    assert "<td>updated by</td><td>alice</td><td>bob</td>" in page
    assert "<td>categories</td><td>drama</td><td>drama, coastal</td>" in page
