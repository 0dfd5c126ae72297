"""Filtering, searching and ordering the episode list."""

import datetime

import pytest
from django.utils import timezone

from episodes.models import Episode

pytestmark = pytest.mark.django_db

LIST = "/api/v1/episodes/"


def make(title: str, **fields) -> Episode:
    return Episode.objects.create(title=title, **fields)


def titles(client, params) -> list[str]:
    response = client.get(LIST, params)
    assert response.status_code == 200, response.content
    return [e["title"] for e in response.json()["results"]]


def at(day: int) -> datetime.datetime:
    return datetime.datetime(2024, 1, day, 12, 0, tzinfo=datetime.UTC)


def set_created(episode: Episode, when: datetime.datetime) -> None:
    Episode.objects.filter(pk=episode.pk).update(created_at=when)


# --- status -----------------------------------------------------------------------------------


def test_status_filter_with_one_value(api):
    make("D", status="draft")
    make("P", status="pending")
    assert titles(api, {"status": "draft"}) == ["D"]


def test_status_filter_with_repeated_params(api):
    make("D", status="draft")
    make("P", status="pending")
    make("A", status="approved")
    assert sorted(titles(api, {"status": ["draft", "pending"]})) == ["D", "P"]


def test_status_filter_with_comma_form(api):
    make("D", status="draft")
    make("P", status="pending")
    make("A", status="approved")
    assert sorted(titles(api, {"status": "draft,pending"})) == ["D", "P"]


@pytest.mark.parametrize("value", ["bogus", "draft,bogus"])
def test_unknown_status_is_400_with_status_key(api, value):
    response = api.get(LIST, {"status": value})
    assert response.status_code == 400
    assert "status" in response.json()


# --- category ---------------------------------------------------------------------------------


def test_category_filter_matches_list_element(api):
    make("News", categories=["news", "politics"])
    make("Sport", categories=["sport"])
    assert titles(api, {"category": "news"}) == ["News"]


def test_category_filter_does_not_match_substring(api):
    make("Newsroom", categories=["newsroom"])
    make("Other", categories=["latest news"])
    assert titles(api, {"category": "news"}) == []


def test_category_filter_is_exact_match(api):
    make("Cap", categories=["News"])
    assert titles(api, {"category": "news"}) == []
    assert titles(api, {"category": "News"}) == ["Cap"]


# --- season_number ----------------------------------------------------------------------------


def test_season_number_filter(api):
    make("S1", season_number=1)
    make("S2", season_number=2)
    make("None")
    assert titles(api, {"season_number": 2}) == ["S2"]


def test_season_number_filter_non_number_is_400(api):
    response = api.get(LIST, {"season_number": "abc"})
    assert response.status_code == 400
    assert "season_number" in response.json()


# --- air_date range ---------------------------------------------------------------------------


def test_air_date_after_is_inclusive(api):
    make("Jan", air_date=datetime.date(2024, 1, 10))
    make("Feb", air_date=datetime.date(2024, 2, 10))
    make("Undated")
    assert titles(api, {"air_date_after": "2024-02-10"}) == ["Feb"]


def test_air_date_before_is_inclusive(api):
    make("Jan", air_date=datetime.date(2024, 1, 10))
    make("Feb", air_date=datetime.date(2024, 2, 10))
    assert titles(api, {"air_date_before": "2024-01-10"}) == ["Jan"]


def test_air_date_range_both_ends(api):
    make("Jan", air_date=datetime.date(2024, 1, 10))
    make("Feb", air_date=datetime.date(2024, 2, 10))
    make("Mar", air_date=datetime.date(2024, 3, 10))
    params = {"air_date_after": "2024-02-01", "air_date_before": "2024-02-28"}
    assert titles(api, params) == ["Feb"]


@pytest.mark.parametrize("param", ["air_date_after", "air_date_before"])
def test_bad_air_date_filter_is_400(api, param):
    response = api.get(LIST, {param: "2024-13-45"})
    assert response.status_code == 400
    assert any(key.startswith("air_date") for key in response.json())


# --- created range ----------------------------------------------------------------------------


def test_created_after_filter(api):
    set_created(make("Old"), at(1))
    set_created(make("New"), at(20))
    assert titles(api, {"created_after": "2024-01-10T00:00:00Z"}) == ["New"]


def test_created_before_filter(api):
    set_created(make("Old"), at(1))
    set_created(make("New"), at(20))
    assert titles(api, {"created_before": "2024-01-10T00:00:00+00:00"}) == ["Old"]


def test_bad_created_after_is_400(api):
    response = api.get(LIST, {"created_after": "not-a-time"})
    assert response.status_code == 400
    assert any(key.startswith("created") for key in response.json())


# --- search -----------------------------------------------------------------------------------


def test_search_matches_title_case_insensitively(api):
    make("The Big Heist")
    make("Quiet Night")
    assert titles(api, {"search": "big HEIST"}) == ["The Big Heist"]


def test_search_matches_description(api):
    make("One", description="A story about DRAGONS.")
    make("Two", description="Nothing here.")
    assert titles(api, {"search": "dragons"}) == ["One"]


def test_search_with_no_match_is_empty(api):
    make("One")
    assert titles(api, {"search": "zzz"}) == []


# --- ordering ---------------------------------------------------------------------------------


def test_default_order_is_newest_first(api):
    set_created(make("Oldest"), at(1))
    set_created(make("Newest"), at(3))
    set_created(make("Middle"), at(2))
    assert titles(api, {}) == ["Newest", "Middle", "Oldest"]


def test_order_by_title_ascending_and_descending(api):
    for name in ["Bravo", "Alpha", "Charlie"]:
        make(name)
    assert titles(api, {"ordering": "title"}) == ["Alpha", "Bravo", "Charlie"]
    assert titles(api, {"ordering": "-title"}) == ["Charlie", "Bravo", "Alpha"]


def test_order_by_episode_number(api):
    make("Two", episode_number=2)
    make("Three", episode_number=3)
    make("One", episode_number=1)
    assert titles(api, {"ordering": "episode_number"}) == ["One", "Two", "Three"]
    assert titles(api, {"ordering": "-episode_number"}) == ["Three", "Two", "One"]


def test_order_by_air_date(api):
    make("Feb", air_date=datetime.date(2024, 2, 1))
    make("Mar", air_date=datetime.date(2024, 3, 1))
    make("Jan", air_date=datetime.date(2024, 1, 1))
    assert titles(api, {"ordering": "air_date"}) == ["Jan", "Feb", "Mar"]
    assert titles(api, {"ordering": "-air_date"}) == ["Mar", "Feb", "Jan"]


def test_order_by_created_at(api):
    set_created(make("Second"), at(2))
    set_created(make("First"), at(1))
    set_created(make("Third"), at(3))
    assert titles(api, {"ordering": "created_at"}) == ["First", "Second", "Third"]
    assert titles(api, {"ordering": "-created_at"}) == ["Third", "Second", "First"]


def test_order_by_updated_at(api):
    for name, day in [("Second", 2), ("First", 1), ("Third", 3)]:
        episode = make(name)
        Episode.objects.filter(pk=episode.pk).update(updated_at=at(day))
    assert titles(api, {"ordering": "updated_at"}) == ["First", "Second", "Third"]
    assert titles(api, {"ordering": "-updated_at"}) == ["Third", "Second", "First"]


def test_order_by_status(api):
    make("P", status="published")
    make("A", status="approved")
    make("D", status="draft")
    assert titles(api, {"ordering": "status"}) == ["A", "D", "P"]
    assert titles(api, {"ordering": "-status"}) == ["P", "D", "A"]


@pytest.mark.parametrize(
    "ordering",
    [["status", "-title"], ["status,-title"]],
    ids=["repeated", "comma-separated"],
)
def test_order_by_several_fields_repeated_or_comma_separated(api, ordering):
    for name, status in [("A1", "approved"), ("D1", "draft"), ("A2", "approved"), ("D2", "draft")]:
        make(name, status=status)
    assert titles(api, {"ordering": ordering}) == ["A2", "A1", "D2", "D1"]


def test_a_repeated_ordering_checks_every_value(api):
    response = api.get(LIST, {"ordering": ["title", "bogus"]})
    assert response.status_code == 400
    assert "ordering" in response.json()


@pytest.mark.parametrize("value", ["bogus", "-deleted_at", "description"])
def test_unknown_ordering_field_is_400(api, value):
    response = api.get(LIST, {"ordering": value})
    assert response.status_code == 400
    assert "ordering" in response.json()


# --- combinations and soft delete -------------------------------------------------------------


def test_filters_combine(api):
    make("Match", status="draft", categories=["news"], season_number=1)
    make("WrongStatus", status="pending", categories=["news"], season_number=1)
    make("WrongCategory", status="draft", categories=["sport"], season_number=1)
    make("WrongSeason", status="draft", categories=["news"], season_number=2)
    params = {"status": "draft", "category": "news", "season_number": 1}
    assert titles(api, params) == ["Match"]


def test_filters_never_reveal_soft_deleted_episodes(api):
    make("Gone", status="draft", deleted_at=timezone.now())
    assert titles(api, {"status": "draft"}) == []
    assert titles(api, {"search": "Gone"}) == []


def test_filter_count_reflects_filtered_total(api):
    Episode.objects.bulk_create([Episode(title=f"D{i}", status="draft") for i in range(25)])
    Episode.objects.bulk_create([Episode(title=f"P{i}", status="pending") for i in range(5)])
    body = api.get(LIST, {"status": "pending"}).json()
    assert body["count"] == 5
