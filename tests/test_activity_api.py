"""The activity log API: filters, newest-first cursor pages, detail, and an episode's history."""

from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.utils import timezone

from activity import selectors
from activity.models import ActivityLog

pytestmark = pytest.mark.django_db

LIST = "/api/v1/activities/"


def entry(**fields) -> ActivityLog:
    fields.setdefault("action", "create")
    fields.setdefault("resource_type", "episode")
    fields.setdefault("resource_id", "1")
    return ActivityLog.objects.create(**fields)


def ids(response) -> list[int]:
    assert response.status_code == 200, response.json()
    return [row["id"] for row in response.json()["results"]]


def relative(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


# --- Access ----------------------------------------------------------------------------------


def test_anonymous_gets_401(anon):
    entry()

    assert anon.get(LIST).status_code == 401
    assert anon.get(f"{LIST}1/").status_code == 401


def test_any_signed_in_user_reads_the_log(api):
    first = entry()

    assert ids(api.get(LIST)) == [first.id]


def test_a_page_builds_the_readers_rows_once(api, monkeypatch):
    """The permission check names the model from the view's class, not from the reader's
    rows, whose visibility rules cost a list a sixth of its time when built twice."""
    built = []
    real = selectors.activity_list
    monkeypatch.setattr(
        selectors, "activity_list", lambda reader: built.append(reader) or real(reader)
    )
    entry()

    assert api.get(LIST).status_code == 200
    assert len(built) == 1


# --- Shape and order -------------------------------------------------------------------------


def test_rows_carry_every_field_with_the_actor(api, user):
    row = entry(
        actor=user,
        actor_label="editor",
        resource_repr="Pilot",
        changes={"title": ["Old", "New"]},
        metadata={"summary": {"title": "New"}},
        request_id="req-1",
        ip_address="10.0.0.1",
        user_agent="curl/8",
        source="api",
        action="update",
    )

    body = api.get(LIST).json()

    assert set(body) == {"next", "previous", "results"}
    assert body["results"] == [
        {
            "id": row.id,
            "timestamp": body["results"][0]["timestamp"],
            "actor": {"id": user.id, "username": "editor"},
            "actor_label": "editor",
            "action": "update",
            "resource_type": "episode",
            "resource_id": "1",
            "resource_repr": "Pilot",
            "episode_id": None,
            "changes": {"title": ["Old", "New"]},
            "metadata": {"summary": {"title": "New"}},
            "request_id": "req-1",
            "ip_address": "10.0.0.1",
            "user_agent": "curl/8",
            "source": "api",
            "verb": "updated",
            "description": "editor updated episode “Pilot”",
            "field_changes": [
                {
                    "field": "title",
                    "label": "title",
                    "kind": "text",
                    "before": "Old",
                    "after": "New",
                }
            ],
        }
    ]


def test_a_system_row_has_a_null_actor(api):
    entry()

    assert api.get(LIST).json()["results"][0]["actor"] is None


def test_newest_first(api):
    made = [entry(resource_id=str(n)).id for n in range(5)]

    assert ids(api.get(LIST)) == sorted(made, reverse=True)


# --- Filters ---------------------------------------------------------------------------------


def test_filters_by_resource_type_and_id(api):
    episode = entry(resource_type="episode", resource_id="a")
    entry(resource_type="episode", resource_id="b")
    composition = entry(resource_type="composition", resource_id="a")

    assert ids(api.get(LIST, {"resource_type": "composition"})) == [composition.id]
    assert ids(api.get(LIST, {"resource_id": "a"})) == [composition.id, episode.id]
    assert ids(api.get(LIST, {"resource_type": "episode", "resource_id": "a"})) == [episode.id]


def test_filters_by_actor(api, user, staff_user):
    mine = entry(actor=user)
    entry(actor=staff_user)
    entry()

    assert ids(api.get(LIST, {"actor": user.id})) == [mine.id]


def test_a_non_integer_actor_is_a_400(api):
    for bad in ["abc", "1.5"]:
        response = api.get(LIST, {"actor": bad})

        assert response.status_code == 400, bad
        assert "actor" in response.json()


def test_filters_by_action(api):
    entry(action="create")
    updated = entry(action="update")

    assert ids(api.get(LIST, {"action": "update"})) == [updated.id]


def test_an_unknown_action_is_a_400(api):
    response = api.get(LIST, {"action": "explode"})

    assert response.status_code == 400
    assert "action" in response.json()


def test_since_and_until_are_inclusive(api):
    start = timezone.now().replace(microsecond=0) - timedelta(days=10)
    rows = [entry(timestamp=start + timedelta(days=n)) for n in range(4)]

    since = api.get(LIST, {"since": (start + timedelta(days=1)).isoformat()})
    until = api.get(LIST, {"until": (start + timedelta(days=2)).isoformat()})
    both = api.get(
        LIST,
        {
            "since": (start + timedelta(days=1)).isoformat(),
            "until": (start + timedelta(days=2)).isoformat(),
        },
    )

    assert ids(since) == [rows[3].id, rows[2].id, rows[1].id]
    assert ids(until) == [rows[2].id, rows[1].id, rows[0].id]
    assert ids(both) == [rows[2].id, rows[1].id]


def test_an_invalid_since_or_until_is_a_400(api):
    for name in ["since", "until"]:
        response = api.get(LIST, {name: "yesterday"})

        assert response.status_code == 400, name
        assert name in response.json()


def test_filters_by_request_id(api):
    entry(request_id="one")
    wanted = entry(request_id="two")

    assert ids(api.get(LIST, {"request_id": "two"})) == [wanted.id]


# --- Cursor pagination -----------------------------------------------------------------------


def test_cursor_pages_walk_every_row_exactly_once_newest_first(api):
    ActivityLog.objects.bulk_create(
        ActivityLog(action="create", resource_type="episode", resource_id=str(n))
        for n in range(120)
    )
    seen, pages = [], 0
    url = f"{LIST}?page_size=50"

    while url:
        body = api.get(url).json()
        seen += [row["id"] for row in body["results"]]
        pages += 1
        url = relative(body["next"]) if body["next"] else None

    expected = list(ActivityLog.objects.order_by("-id").values_list("id", flat=True))
    assert len(expected) == 120
    assert seen == expected
    assert pages == 3


def test_default_page_is_50_and_page_size_is_capped_at_200(api):
    ActivityLog.objects.bulk_create(
        ActivityLog(action="create", resource_type="episode", resource_id=str(n))
        for n in range(210)
    )

    assert len(ids(api.get(LIST))) == 50
    assert len(ids(api.get(LIST, {"page_size": 500}))) == 200


def test_a_nonsense_page_size_is_a_400(api):
    for bad in ["0", "-3", "many"]:
        response = api.get(LIST, {"page_size": bad})

        assert response.status_code == 400, bad
        assert "page_size" in response.json()


def test_filters_hold_across_pages(api):
    ActivityLog.objects.bulk_create(
        ActivityLog(
            action="update" if n % 2 else "create", resource_type="episode", resource_id="1"
        )
        for n in range(10)
    )

    first = api.get(LIST, {"action": "update", "page_size": 3}).json()
    rest = api.get(relative(first["next"])).json()

    actions = {row["action"] for row in first["results"] + rest["results"]}
    assert actions == {"update"}
    assert "action=update" in first["next"]


# --- Detail ----------------------------------------------------------------------------------


def test_detail_returns_one_row(api):
    row = entry(resource_repr="Pilot")

    response = api.get(f"{LIST}{row.id}/")

    assert response.status_code == 200
    assert response.json()["id"] == row.id
    assert response.json()["resource_repr"] == "Pilot"


def test_detail_of_an_unknown_id_is_a_404(api):
    row = entry()

    assert api.get(f"{LIST}{row.id + 1}/").status_code == 404
    assert api.get(f"{LIST}{10**30}/").status_code == 404


def test_detail_of_a_non_integer_id_is_a_400(api):
    response = api.get(f"{LIST}abc/")

    assert response.status_code == 400
    assert "id" in response.json()


def test_the_log_cannot_be_written_through_the_api(api):
    row = entry()

    assert api.post(LIST, {"action": "create"}).status_code == 405
    assert api.patch(f"{LIST}{row.id}/", {"action": "delete"}).status_code == 405
    assert api.delete(f"{LIST}{row.id}/").status_code == 405
    assert ActivityLog.objects.get(pk=row.id).action == "create"


# --- One episode's history -------------------------------------------------------------------


def episode_history(client, episode_id: str, **params):
    return client.get(f"/api/v1/episodes/{episode_id}/activity/", params)


def test_episode_activity_lists_its_create_update_and_delete_newest_first(api, staff_api, user):
    episode_id = api.post("/api/v1/episodes/", {"title": "Pilot"}).json()["id"]
    other_id = api.post("/api/v1/episodes/", {"title": "Other"}).json()["id"]
    api.patch(f"/api/v1/episodes/{episode_id}/", {"title": "Pilot (final)"})
    api.patch(f"/api/v1/episodes/{other_id}/", {"title": "Other (final)"})
    assert api.delete(f"/api/v1/episodes/{episode_id}/").status_code == 204

    response = episode_history(staff_api, episode_id, include_deleted="true")

    assert response.status_code == 200
    rows = response.json()["results"]
    assert [row["action"] for row in rows] == ["delete", "update", "create"]
    assert [row["id"] for row in rows] == sorted((row["id"] for row in rows), reverse=True)
    assert {row["episode_id"] for row in rows} == {episode_id}
    assert {row["actor"]["id"] for row in rows} == {user.id}
    assert rows[1]["changes"] == {"title": ["Pilot", "Pilot (final)"]}
    assert rows[0]["changes"]["deleted_at"][0] is None
    assert rows[2]["changes"]["title"] == "Pilot"


def test_episode_activity_takes_the_same_filters_and_cursor(api):
    episode_id = api.post("/api/v1/episodes/", {"title": "Pilot"}).json()["id"]
    for n in range(3):
        api.patch(f"/api/v1/episodes/{episode_id}/", {"title": f"Take {n}"})

    updates = episode_history(api, episode_id, action="update", page_size=2).json()
    rest = api.get(relative(updates["next"])).json()

    assert [row["changes"]["title"][1] for row in updates["results"] + rest["results"]] == [
        "Take 2",
        "Take 1",
        "Take 0",
    ]
    assert episode_history(api, episode_id, action="explode").status_code == 400


def test_a_deleted_episodes_history_is_for_staff_only(api, staff_api):
    episode_id = api.post("/api/v1/episodes/", {"title": "Pilot"}).json()["id"]
    api.delete(f"/api/v1/episodes/{episode_id}/")

    assert episode_history(api, episode_id).status_code == 404
    assert episode_history(api, episode_id, include_deleted="true").status_code == 403
    assert episode_history(staff_api, episode_id).status_code == 404
    assert episode_history(staff_api, episode_id, include_deleted="true").status_code == 200


def test_episode_activity_of_an_unknown_or_malformed_episode(api):
    missing = episode_history(api, "00000000-0000-0000-0000-000000000000")
    malformed = episode_history(api, "not-a-uuid")

    assert missing.status_code == 404
    assert malformed.status_code == 400
    assert "id" in malformed.json()


def test_episode_activity_needs_authentication(anon, api):
    episode_id = api.post("/api/v1/episodes/", {"title": "Pilot"}).json()["id"]

    assert episode_history(anon, episode_id).status_code == 401


# --- Schema ----------------------------------------------------------------------------------


def test_schema_describes_the_activity_endpoints(api):
    paths = api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()["paths"]

    filters = {"resource_type", "resource_id", "actor", "action", "since", "until", "request_id"}
    for path in ["/api/v1/activities/", "/api/v1/episodes/{id}/activity/"]:
        operation = paths[path]["get"]
        names = {p["name"] for p in operation["parameters"]}
        assert filters | {"cursor", "page_size"} <= names, path
        schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
        assert schema["$ref"].endswith("/PaginatedActivityLogList")
    episode_id = next(
        p
        for p in paths["/api/v1/episodes/{id}/activity/"]["get"]["parameters"]
        if p["name"] == "id"
    )
    assert episode_id["schema"] == {"type": "string", "format": "uuid"}
    detail = paths["/api/v1/activities/{id}/"]["get"]
    assert {"200", "400", "401", "404"} <= set(detail["responses"])
    assert set(paths["/api/v1/activities/{id}/"]) == {"get"}
