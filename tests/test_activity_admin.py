"""The activity log in the admin: browsable and searchable by staff, never editable."""

from datetime import timedelta

import pytest

from activity.models import ActivityLog
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/activity/activitylog/"


def change_url(entry: ActivityLog) -> str:
    return f"{CHANGELIST}{entry.pk}/change/"


@pytest.fixture
def boss(client, django_user_model):
    user = django_user_model.objects.create_superuser("boss", "boss@example.com", PASSWORD)
    client.login(username="boss", password=PASSWORD)
    return user


@pytest.fixture
def update_entry(boss) -> ActivityLog:
    return ActivityLog.objects.create(
        actor=boss,
        actor_label="boss",
        action="update",
        resource_type="episode",
        resource_id="ep-1",
        resource_repr="Pilot",
        changes={"title": ["Pilot", "<b>Pilot</b> (final)"], "air_date": [None, "2026-12-01"]},
        request_id="req-update",
        source="admin",
    )


def test_changelist_shows_the_columns(client, update_entry):
    response = client.get(CHANGELIST)

    assert response.status_code == 200
    for text in ["Pilot", "boss", "update", "episode", "admin", "req-update"]:
        assert text in response.text, text


def test_search_matches_repr_resource_id_and_request_id(client, update_entry):
    ActivityLog.objects.create(
        action="create",
        resource_type="job",
        resource_id="job-7",
        resource_repr="Transcode",
        request_id="req-job",
    )

    for term, hit, miss in [
        ("Transcode", "req-job", "req-update"),
        ("ep-1", "req-update", "req-job"),
        ("req-update", "req-update", "req-job"),
    ]:
        response = client.get(CHANGELIST, {"q": term})
        assert response.status_code == 200
        assert hit in response.text and miss not in response.text, term


def test_filters_narrow_the_list(client, update_entry, user):
    ActivityLog.objects.create(
        actor=user,
        actor_label="editor",
        action="create",
        resource_type="job",
        resource_id="job-7",
        request_id="req-job",
        source="api",
    )

    for params, shown, hidden in [
        ({"action__exact": "create"}, "req-job", "req-update"),
        ({"resource_type": "episode"}, "req-update", "req-job"),
        ({"source__exact": "api"}, "req-job", "req-update"),
        ({"actor": str(user.pk)}, "req-job", "req-update"),
    ]:
        response = client.get(CHANGELIST, params)
        assert response.status_code == 200, params
        assert shown in response.text and hidden not in response.text, params


def test_actor_filter_lists_only_users_in_the_log(client, update_entry, django_user_model):
    django_user_model.objects.create_user("bystander", password=PASSWORD)

    response = client.get(CHANGELIST)

    assert f"?actor={update_entry.actor_id}" in response.text
    assert "bystander" not in response.text


def test_date_filter_and_hierarchy_render(client, update_entry):
    ActivityLog.objects.create(
        timestamp=update_entry.timestamp - timedelta(days=400),
        action="create",
        resource_type="episode",
        resource_id="ep-0",
        request_id="req-old",
    )
    day = update_entry.timestamp

    hierarchy = client.get(CHANGELIST, {"timestamp__year": day.year, "timestamp__month": day.month})
    around_now = client.get(
        CHANGELIST,
        {
            "timestamp__gte": (day - timedelta(days=1)).isoformat(),
            "timestamp__lt": (day + timedelta(days=1)).isoformat(),
        },
    )

    assert hierarchy.status_code == 200
    assert "req-update" in hierarchy.text and "req-old" not in hierarchy.text
    assert around_now.status_code == 200
    assert "req-update" in around_now.text and "req-old" not in around_now.text


def test_change_view_shows_the_diff_as_an_escaped_table(client, update_entry):
    response = client.get(change_url(update_entry))

    assert response.status_code == 200
    html = response.text
    assert "<th>field</th><th>before</th><th>after</th>" in html
    assert "<td>title</td><td>Pilot</td><td>&lt;b&gt;Pilot&lt;/b&gt; (final)</td>" in html
    assert "<td>air date</td><td>—</td><td>1 Dec 2026</td>" in html
    assert "<b>Pilot</b>" not in html
    assert 'name="resource_repr"' not in html


def test_change_view_shows_a_snapshot_as_field_and_value(client, boss):
    created = ActivityLog.objects.create(
        action="create",
        resource_type="episode",
        resource_id="ep-2",
        changes={"title": "Finale", "categories": ["news", "drama"]},
    )

    html = client.get(change_url(created)).text

    assert "<th>field</th><th>value</th>" in html
    assert "<td>title</td><td>Finale</td>" in html
    assert "<td>categories</td><td>news, drama</td>" in html


def test_add_is_refused(client, boss):
    assert client.get(f"{CHANGELIST}add/").status_code == 403
    response = client.post(
        f"{CHANGELIST}add/", {"action": "create", "resource_type": "x", "resource_id": "1"}
    )
    assert response.status_code == 403
    assert not ActivityLog.objects.exists()


def test_posting_a_change_does_not_modify_the_row(client, update_entry):
    response = client.post(
        change_url(update_entry),
        {"action": "delete", "resource_type": "job", "resource_repr": "Forged"},
    )

    assert response.status_code == 403
    update_entry.refresh_from_db()
    assert update_entry.action == "update"
    assert update_entry.resource_repr == "Pilot"


def test_delete_is_refused(client, update_entry):
    assert client.get(f"{CHANGELIST}{update_entry.pk}/delete/").status_code == 403
    assert client.post(f"{CHANGELIST}{update_entry.pk}/delete/", {"post": "yes"}).status_code == 403
    assert ActivityLog.objects.filter(pk=update_entry.pk).exists()


def test_there_is_no_bulk_delete(client, update_entry):
    response = client.post(
        CHANGELIST,
        {"action": "delete_selected", "_selected_action": [update_entry.pk], "post": "yes"},
    )

    assert "delete_selected" not in client.get(CHANGELIST).text
    assert response.status_code in (200, 302)
    assert ActivityLog.objects.filter(pk=update_entry.pk).exists()


def test_staff_without_model_permissions_can_read_the_log(client, staff_user, update_entry):
    client.login(username="producer", password=PASSWORD)

    assert client.get("/admin/").status_code == 200
    assert "Activity log" in client.get("/admin/").text
    assert client.get(CHANGELIST).status_code == 200
    assert client.get(change_url(update_entry)).status_code == 200
    assert client.get(f"{CHANGELIST}add/").status_code == 403


def test_retention_mark_is_not_in_the_admin(client, boss):
    assert client.get("/admin/activity/retentionmark/").status_code == 404
