"""The episodes API: fields, validation, database constraints, CRUD, soft delete and errors."""

import uuid

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from episodes.models import Episode

pytestmark = pytest.mark.django_db

LIST = "/api/v1/episodes/"


def detail(pk) -> str:
    return f"{LIST}{pk}/"


def make(**fields) -> Episode:
    fields.setdefault("title", "Pilot")
    return Episode.objects.create(**fields)


def create_via_api(client, **fields):
    fields.setdefault("title", "Pilot")
    return client.post(LIST, fields, format="json")


# --- Create and the fields it returns ---------------------------------------------------------


def test_create_returns_201_with_the_episode(api, user):
    response = create_via_api(
        api,
        title="Pilot",
        description="First one",
        season_number=1,
        episode_number=2,
        air_date="2024-05-01",
        categories=["news", "drama"],
    )
    assert response.status_code == 201
    body = response.json()
    assert uuid.UUID(body["id"])
    assert body["title"] == "Pilot"
    assert body["description"] == "First one"
    assert body["season_number"] == 1
    assert body["episode_number"] == 2
    assert body["air_date"] == "2024-05-01"
    assert body["categories"] == ["news", "drama"]
    assert body["deleted_at"] is None
    assert body["created_at"] and body["updated_at"]
    assert Episode.objects.filter(pk=body["id"], title="Pilot").exists()


def test_create_defaults_status_to_draft(api):
    response = create_via_api(api)
    assert response.status_code == 201
    assert response.json()["status"] == "draft"
    assert Episode.objects.get(pk=response.json()["id"]).status == "draft"


def test_create_sets_created_by_and_updated_by_to_requester(api, user):
    body = create_via_api(api).json()
    expected = {"id": user.id, "username": "editor"}
    assert body["created_by"] == expected
    assert body["updated_by"] == expected
    episode = Episode.objects.get(pk=body["id"])
    assert episode.created_by == user and episode.updated_by == user


def test_create_accepts_every_status(api):
    for value in ["draft", "pending", "approved", "published", "archived", "rejected"]:
        response = create_via_api(api, title=value, status=value)
        assert response.status_code == 201, value
        assert response.json()["status"] == value


def test_create_rejects_unknown_status(api):
    response = create_via_api(api, status="bogus")
    assert response.status_code == 400
    assert "status" in response.json()


def test_title_is_required(api):
    response = api.post(LIST, {"description": "no title"}, format="json")
    assert response.status_code == 400
    assert "title" in response.json()


@pytest.mark.parametrize("title", ["", "   "])
def test_blank_or_whitespace_title_is_rejected(api, title):
    response = create_via_api(api, title=title)
    assert response.status_code == 400
    assert "title" in response.json()
    assert not Episode.objects.exists()


def test_title_of_255_chars_is_accepted_and_256_rejected(api):
    assert create_via_api(api, title="x" * 255).status_code == 201
    response = create_via_api(api, title="x" * 256)
    assert response.status_code == 400
    assert "title" in response.json()


@pytest.mark.parametrize("field", ["season_number", "episode_number"])
@pytest.mark.parametrize("value", [0, -1, "abc", 1.5, 2147483648])
def test_bad_season_or_episode_number_is_rejected(api, field, value):
    response = create_via_api(api, **{field: value})
    assert response.status_code == 400
    assert field in response.json()
    assert not Episode.objects.exists()


def test_season_and_episode_numbers_are_optional(api):
    body = create_via_api(api).json()
    assert body["season_number"] is None
    assert body["episode_number"] is None


def test_largest_int32_number_is_accepted(api):
    response = create_via_api(api, season_number=2147483647, episode_number=2147483647)
    assert response.status_code == 201


@pytest.mark.parametrize(
    "categories",
    [
        "news",
        {"a": "b"},
        ["news", "news"],
        [f"c{i}" for i in range(21)],
        ["x" * 51],
        [""],
    ],
    ids=["string", "dict", "duplicates", "21-items", "51-chars", "empty-item"],
)
def test_bad_categories_are_rejected(api, categories):
    response = create_via_api(api, categories=categories)
    assert response.status_code == 400
    assert "categories" in response.json()
    assert not Episode.objects.exists()


def test_twenty_categories_of_fifty_chars_are_accepted(api):
    categories = [f"{i:02d}" + "x" * 48 for i in range(20)]
    response = create_via_api(api, categories=categories)
    assert response.status_code == 201
    assert response.json()["categories"] == categories


def test_categories_default_to_empty_list(api):
    assert create_via_api(api).json()["categories"] == []


def test_duplicate_season_and_episode_among_live_episodes_is_rejected(api):
    make(season_number=1, episode_number=1)
    response = create_via_api(api, title="Again", season_number=1, episode_number=1)
    assert response.status_code == 400
    assert "episode_number" in response.json()
    assert Episode.objects.count() == 1


def test_soft_deleted_episode_frees_its_number(api):
    make(season_number=1, episode_number=1, deleted_at=timezone.now())
    response = create_via_api(api, title="Again", season_number=1, episode_number=1)
    assert response.status_code == 201


def test_same_episode_number_in_other_season_is_allowed(api):
    make(season_number=1, episode_number=1)
    assert create_via_api(api, season_number=2, episode_number=1).status_code == 201


def test_read_only_fields_in_body_are_ignored(api, staff_user):
    forced_id = uuid.uuid4()
    response = create_via_api(
        api, id=str(forced_id), deleted_at="2024-01-01T00:00:00Z", created_by=staff_user.id
    )
    assert response.status_code == 201
    body = response.json()
    assert body["id"] != str(forced_id)
    assert body["deleted_at"] is None
    assert body["created_by"]["username"] == "editor"


# --- Database constraints ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "fields",
    [
        {"title": ""},
        {"status": "bogus"},
        {"season_number": 0},
        {"episode_number": 0},
        {"categories": {"a": "b"}},
        {"categories": [f"c{i}" for i in range(21)]},
    ],
    ids=["blank-title", "bad-status", "season-0", "episode-0", "dict-categories", "21-categories"],
)
def test_database_rejects_invalid_row(fields):
    with pytest.raises(IntegrityError), transaction.atomic():
        Episode.objects.create(**{"title": "Pilot", **fields})


def test_database_rejects_two_live_episodes_with_same_number():
    make(season_number=1, episode_number=1)
    with pytest.raises(IntegrityError), transaction.atomic():
        make(season_number=1, episode_number=1)


def test_database_allows_same_number_when_one_is_soft_deleted():
    make(season_number=1, episode_number=1, deleted_at=timezone.now())
    make(season_number=1, episode_number=1)
    assert Episode.objects.filter(season_number=1, episode_number=1).count() == 2


# --- List and pagination ----------------------------------------------------------------------


def test_list_has_exactly_page_number_pagination_keys(api):
    make()
    body = api.get(LIST).json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert body["count"] == 1
    assert body["results"][0]["title"] == "Pilot"


def test_list_page_size_defaults_to_20(api):
    Episode.objects.bulk_create([Episode(title=f"E{i}") for i in range(25)])
    body = api.get(LIST).json()
    assert body["count"] == 25
    assert len(body["results"]) == 20
    assert body["next"] is not None
    assert body["previous"] is None


def test_list_second_page_holds_the_rest(api):
    Episode.objects.bulk_create([Episode(title=f"E{i}") for i in range(25)])
    body = api.get(LIST, {"page": 2}).json()
    assert len(body["results"]) == 5
    assert body["next"] is None
    assert body["previous"] is not None


def test_list_page_size_param_is_honoured(api):
    Episode.objects.bulk_create([Episode(title=f"E{i}") for i in range(5)])
    assert len(api.get(LIST, {"page_size": 2}).json()["results"]) == 2


def test_list_page_size_is_capped_at_100(api):
    Episode.objects.bulk_create([Episode(title=f"E{i}") for i in range(120)])
    body = api.get(LIST, {"page_size": 500}).json()
    assert body["count"] == 120
    assert len(body["results"]) == 100


@pytest.mark.parametrize("page_size", ["abc", "0", "-5"])
def test_list_bad_page_size_is_400(api, page_size):
    response = api.get(LIST, {"page_size": page_size})
    assert response.status_code == 400
    assert "page_size" in response.json()


def test_list_page_beyond_the_end_is_404_json(api):
    make()
    response = api.get(LIST, {"page": 5})
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    assert "detail" in response.json()


def test_list_without_trailing_slash_works(api):
    make()
    response = api.get("/api/v1/episodes")
    assert response.status_code == 200
    assert response.json()["count"] == 1


# --- Soft-deleted episodes in list and retrieve -----------------------------------------------


def test_list_hides_soft_deleted_episodes(api):
    make(title="Live")
    make(title="Gone", deleted_at=timezone.now())
    titles = [e["title"] for e in api.get(LIST).json()["results"]]
    assert titles == ["Live"]


def test_staff_list_with_include_deleted_shows_soft_deleted(staff_api):
    make(title="Live")
    make(title="Gone", deleted_at=timezone.now())
    response = staff_api.get(LIST, {"include_deleted": "true"})
    assert response.status_code == 200
    assert {e["title"] for e in response.json()["results"]} == {"Live", "Gone"}


def test_staff_list_without_include_deleted_still_hides_them(staff_api):
    make(title="Gone", deleted_at=timezone.now())
    assert staff_api.get(LIST).json()["count"] == 0


def test_non_staff_include_deleted_on_list_is_403(api):
    make(title="Gone", deleted_at=timezone.now())
    assert api.get(LIST, {"include_deleted": "true"}).status_code == 403


def test_include_deleted_with_non_boolean_is_400(staff_api):
    response = staff_api.get(LIST, {"include_deleted": "maybe"})
    assert response.status_code == 400
    assert "include_deleted" in response.json()


def test_retrieve_soft_deleted_is_404(api):
    episode = make(deleted_at=timezone.now())
    assert api.get(detail(episode.pk)).status_code == 404


def test_staff_retrieve_soft_deleted_with_include_deleted(staff_api):
    episode = make(deleted_at=timezone.now())
    response = staff_api.get(detail(episode.pk), {"include_deleted": "true"})
    assert response.status_code == 200
    assert response.json()["deleted_at"] is not None


def test_non_staff_retrieve_with_include_deleted_is_403(api):
    episode = make(deleted_at=timezone.now())
    assert api.get(detail(episode.pk), {"include_deleted": "true"}).status_code == 403


# --- Retrieve ---------------------------------------------------------------------------------


def test_retrieve_returns_the_episode(api):
    episode = make(title="Pilot", season_number=3)
    response = api.get(detail(episode.pk))
    assert response.status_code == 200
    assert response.json()["id"] == str(episode.pk)
    assert response.json()["season_number"] == 3


def test_retrieve_without_trailing_slash_works(api):
    episode = make()
    response = api.get(f"{LIST}{episode.pk}")
    assert response.status_code == 200
    assert response.json()["id"] == str(episode.pk)


def test_retrieve_unknown_uuid_is_404(api):
    response = api.get(detail(uuid.uuid4()))
    assert response.status_code == 404
    assert "detail" in response.json()


@pytest.mark.parametrize("method", ["get", "put", "patch", "delete"])
def test_malformed_id_is_400_with_id_key(api, method):
    response = getattr(api, method)(detail("not-a-uuid"), {"title": "x"}, format="json")
    assert response.status_code == 400
    assert "id" in response.json()


def test_restore_with_malformed_id_is_400(api):
    response = api.post(f"{LIST}not-a-uuid/restore/")
    assert response.status_code == 400
    assert "id" in response.json()


# --- Update -----------------------------------------------------------------------------------


def test_put_replaces_fields_and_sets_updated_by(api, user, staff_user):
    episode = make(title="Old", status="pending", created_by=staff_user, updated_by=staff_user)
    response = api.put(
        detail(episode.pk), {"title": "New", "status": "approved", "season_number": 2}
    )
    assert response.status_code == 200
    assert response.json()["title"] == "New"
    assert response.json()["updated_by"] == {"id": user.id, "username": "editor"}
    assert response.json()["created_by"]["username"] == "producer"
    episode.refresh_from_db()
    assert (episode.title, episode.status, episode.season_number) == ("New", "approved", 2)
    assert episode.updated_by == user


def test_put_without_title_is_400(api):
    episode = make()
    response = api.put(detail(episode.pk), {"description": "only"})
    assert response.status_code == 400
    assert "title" in response.json()


def test_patch_changes_only_given_field_and_sets_updated_by(api, user, staff_user):
    episode = make(title="Keep", description="old", updated_by=staff_user)
    response = api.patch(detail(episode.pk), {"description": "new"})
    assert response.status_code == 200
    episode.refresh_from_db()
    assert (episode.title, episode.description) == ("Keep", "new")
    assert episode.updated_by == user
    assert response.json()["updated_by"]["username"] == "editor"


def test_patch_without_trailing_slash_works(api):
    episode = make()
    response = api.patch(f"{LIST}{episode.pk}", {"title": "Renamed"})
    assert response.status_code == 200
    episode.refresh_from_db()
    assert episode.title == "Renamed"


def test_patch_bumps_updated_at(api):
    episode = make()
    before = episode.updated_at
    api.patch(detail(episode.pk), {"title": "Renamed"})
    episode.refresh_from_db()
    assert episode.updated_at > before


def test_patch_keeping_own_number_is_allowed(api):
    episode = make(season_number=1, episode_number=1)
    response = api.patch(detail(episode.pk), {"season_number": 1, "episode_number": 1})
    assert response.status_code == 200


def test_patch_to_number_held_by_live_episode_is_400(api):
    make(season_number=1, episode_number=1)
    episode = make(season_number=1, episode_number=2)
    response = api.patch(detail(episode.pk), {"episode_number": 1})
    assert response.status_code == 400
    assert "episode_number" in response.json()
    episode.refresh_from_db()
    assert episode.episode_number == 2


def test_patch_with_bad_categories_is_400(api):
    episode = make(categories=["news"])
    response = api.patch(detail(episode.pk), {"categories": ["a", "a"]})
    assert response.status_code == 400
    episode.refresh_from_db()
    assert episode.categories == ["news"]


def test_patch_soft_deleted_episode_is_404(api):
    episode = make(deleted_at=timezone.now())
    assert api.patch(detail(episode.pk), {"title": "x"}).status_code == 404


# --- Soft delete, restore, hard delete --------------------------------------------------------


def test_delete_is_soft_and_keeps_the_row(api, user):
    episode = make()
    response = api.delete(detail(episode.pk))
    assert response.status_code == 204
    episode.refresh_from_db()
    assert episode.deleted_at is not None
    assert episode.updated_by == user


def test_deleted_episode_disappears_from_list_and_retrieve(api):
    episode = make()
    api.delete(detail(episode.pk))
    assert api.get(LIST).json()["count"] == 0
    assert api.get(detail(episode.pk)).status_code == 404


def test_delete_already_soft_deleted_is_404(api):
    episode = make(deleted_at=timezone.now())
    assert api.delete(detail(episode.pk)).status_code == 404


def test_delete_unknown_uuid_is_404(api):
    assert api.delete(detail(uuid.uuid4())).status_code == 404


def test_restore_brings_back_a_soft_deleted_episode(api, user):
    episode = make(deleted_at=timezone.now())
    response = api.post(f"{detail(episode.pk)}restore/")
    assert response.status_code == 200
    assert response.json()["deleted_at"] is None
    assert response.json()["id"] == str(episode.pk)
    episode.refresh_from_db()
    assert episode.deleted_at is None
    assert episode.updated_by == user
    assert api.get(detail(episode.pk)).status_code == 200


def test_restore_without_trailing_slash_works(api):
    episode = make(deleted_at=timezone.now())
    assert api.post(f"{detail(episode.pk)}restore").status_code == 200


def test_restore_live_episode_is_400(api):
    episode = make()
    response = api.post(f"{detail(episode.pk)}restore/")
    assert response.status_code == 400
    episode.refresh_from_db()
    assert episode.deleted_at is None


def test_restore_when_number_is_taken_by_live_episode_is_400(api):
    deleted = make(season_number=1, episode_number=1, deleted_at=timezone.now())
    make(title="Replacement", season_number=1, episode_number=1)
    response = api.post(f"{detail(deleted.pk)}restore/")
    assert response.status_code == 400
    assert "episode_number" in response.json()
    deleted.refresh_from_db()
    assert deleted.deleted_at is not None


def test_restore_unknown_uuid_is_404(api):
    assert api.post(f"{detail(uuid.uuid4())}restore/").status_code == 404


def test_staff_hard_delete_removes_the_row(staff_api):
    episode = make()
    response = staff_api.delete(detail(episode.pk) + "?hard=true")
    assert response.status_code == 204
    assert not Episode.objects.filter(pk=episode.pk).exists()


def test_non_staff_hard_delete_is_403_and_keeps_the_row(api):
    episode = make()
    response = api.delete(detail(episode.pk) + "?hard=true")
    assert response.status_code == 403
    episode.refresh_from_db()
    assert episode.deleted_at is None


def test_staff_can_hard_delete_a_soft_deleted_episode(staff_api):
    episode = make(deleted_at=timezone.now())
    response = staff_api.delete(detail(episode.pk) + "?hard=true")
    assert response.status_code == 204
    assert not Episode.objects.filter(pk=episode.pk).exists()


def test_hard_with_non_boolean_is_400_and_keeps_the_row(staff_api):
    episode = make()
    response = staff_api.delete(detail(episode.pk) + "?hard=maybe")
    assert response.status_code == 400
    episode.refresh_from_db()
    assert episode.deleted_at is None


# --- Bad input never gives a 500 --------------------------------------------------------------


@pytest.mark.parametrize("air_date", ["2024-13-45", "yesterday", "01/02/2024"])
def test_bad_air_date_in_body_is_400_with_field_key(api, air_date):
    response = create_via_api(api, air_date=air_date)
    assert response.status_code == 400
    assert "air_date" in response.json()


def test_bad_air_date_in_patch_is_400(api):
    episode = make()
    response = api.patch(detail(episode.pk), {"air_date": "2024-02-30"})
    assert response.status_code == 400
    assert "air_date" in response.json()


def test_non_json_body_is_400(api):
    response = api.post(LIST, data="{not json", content_type="application/json")
    assert response.status_code == 400
    assert "detail" in response.json()
    assert not Episode.objects.exists()


def test_json_array_body_is_400(api):
    response = api.post(LIST, data="[1, 2]", content_type="application/json")
    assert response.status_code == 400


def test_unknown_api_path_is_404_json(api):
    response = api.get("/api/v1/nothing-here/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    assert response.json() == {"detail": "Not found."}


# --- Authentication ---------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["get", "post"])
def test_unauthenticated_list_or_create_is_401_with_bearer_challenge(anon, method):
    response = getattr(anon, method)(LIST, {"title": "x"}, format="json")
    assert response.status_code == 401
    assert response["Content-Type"].startswith("application/json")
    assert "detail" in response.json()
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert not Episode.objects.exists()


def test_unauthenticated_retrieve_is_401(anon):
    episode = make()
    assert anon.get(detail(episode.pk)).status_code == 401


def test_invalid_bearer_token_is_401(anon):
    anon.credentials(HTTP_AUTHORIZATION="Bearer not-a-real-token")
    assert anon.get(LIST).status_code == 401
