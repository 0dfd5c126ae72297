"""Query parameters no client should send: dates no database takes, numbers no column holds,
cursors that point nowhere. Each is a 400 naming the parameter, on every backend."""

import base64
import datetime

import pytest

from activity.models import ActivityLog
from episodes.models import Episode

pytestmark = pytest.mark.django_db

HUGE = "1180591620717411303424"  # 2**70
DATE_TIME_FILTERS = [
    ("/api/v1/episodes/", "created_after"),
    ("/api/v1/episodes/", "created_before"),
    ("/api/v1/jobs/", "created_after"),
    ("/api/v1/jobs/", "created_before"),
    ("/api/v1/activities/", "since"),
    ("/api/v1/activities/", "until"),
    ("/api/v1/episodes/{episode}/activity/", "since"),
]
INTEGER_FILTERS = [
    ("/api/v1/activities/", "actor"),
    ("/api/v1/episodes/{episode}/activity/", "actor"),
    ("/api/v1/jobs/", "created_by"),
    ("/api/v1/episodes/", "season_number"),
]
CURSOR_LISTS = [
    "/api/v1/activities/",
    "/api/v1/notifications/",
    "/api/v1/episodes/{episode}/activity/",
]


@pytest.fixture
def episode(api) -> Episode:
    response = api.post("/api/v1/episodes/", {"title": "Pilot"}, format="json")
    return Episode.objects.get(pk=response.json()["id"])


def url_for(template: str, episode: Episode) -> str:
    return template.format(episode=episode.pk)


def cursor(query: str) -> str:
    return base64.b64encode(query.encode()).decode()


@pytest.mark.parametrize("url, name", DATE_TIME_FILTERS)
@pytest.mark.parametrize(
    "value",
    [
        "2026-01-01T00:00:00+23:32",
        "2026-01-01T00:00:00-16:00",
        "2026-01-01T00:00:00+16:00",
        "9999-12-31T23:59:59-05:00",
        "0001-01-01T00:00:00+05:00",
    ],
)
def test_date_times_no_database_takes_are_a_400(api, episode, url, name, value):
    response = api.get(url_for(url, episode), {name: value})

    assert response.status_code == 400, response.content
    # A range's two ends are one filter, named for both.
    assert name.removesuffix("_after").removesuffix("_before") in response.json()


@pytest.mark.parametrize("url, name", DATE_TIME_FILTERS)
@pytest.mark.parametrize(
    "value", ["2026-01-01T00:00:00+15:59", "2026-01-01T00:00:00-15:59", "9999-12-31T23:59:59Z"]
)
def test_date_times_at_the_edges_are_accepted(api, episode, url, name, value):
    response = api.get(url_for(url, episode), {name: value})

    assert response.status_code == 200, response.content


def test_an_offset_selects_the_same_instant_as_utc(api):
    Episode.objects.create(title="Early")
    Episode.objects.filter(title="Early").update(
        created_at=datetime.datetime(2026, 1, 1, 0, 0, tzinfo=datetime.UTC)
    )

    # 2026-01-01T10:30+10:30 is midnight UTC: the episode was created at that very instant.
    at = api.get("/api/v1/episodes/", {"created_after": "2026-01-01T10:30:00+10:30"})
    after = api.get("/api/v1/episodes/", {"created_after": "2026-01-01T10:30:01+10:30"})

    assert [e["title"] for e in at.json()["results"]] == ["Early"]
    assert after.json()["results"] == []


@pytest.mark.parametrize("url, name", INTEGER_FILTERS)
@pytest.mark.parametrize("value", [HUGE, "-" + HUGE, "9223372036854775808", "1" + "0" * 5000])
def test_integers_beyond_64_bits_are_a_400_naming_the_filter(api, episode, url, name, value):
    response = api.get(url_for(url, episode), {name: value})

    assert response.status_code == 400, response.content
    assert name in response.json()


@pytest.mark.parametrize("url, name", INTEGER_FILTERS)
def test_the_largest_64_bit_integer_is_accepted(api, episode, url, name):
    response = api.get(url_for(url, episode), {name: "9223372036854775807"})

    assert response.status_code == 200, response.content


def test_a_season_number_is_a_whole_number(api):
    Episode.objects.create(title="S2", season_number=2)

    assert api.get("/api/v1/episodes/", {"season_number": "2"}).json()["count"] == 1
    assert api.get("/api/v1/episodes/", {"season_number": "1.5"}).status_code == 400


@pytest.mark.parametrize("value", [HUGE, "1" + "0" * 5000, "-1", "1e400", "nan"])
def test_a_page_number_past_the_pages_is_a_404(api, value):
    response = api.get("/api/v1/episodes/", {"page": value})

    assert response.status_code == 404, response.content


@pytest.mark.parametrize("value", ["1" + "0" * 5000, "-1", "1e400", "nan", "0"])
def test_a_page_size_that_is_no_size_is_a_400(api, value):
    response = api.get("/api/v1/episodes/", {"page_size": value})

    assert response.status_code == 400, response.content
    assert "page_size" in response.json()


def test_a_huge_page_size_is_the_largest_page(api):
    Episode.objects.bulk_create(Episode(title=f"E{n}") for n in range(101))

    response = api.get("/api/v1/episodes/", {"page_size": HUGE})

    assert len(response.json()["results"]) == 100


@pytest.mark.parametrize("url", CURSOR_LISTS)
@pytest.mark.parametrize(
    "raw",
    [
        cursor("p=abc&r=1"),
        cursor("p=abc"),
        cursor(f"p={HUGE}"),
        cursor(f"p=-{HUGE}"),
        cursor("p=-1&r=1"),
        cursor("p=1.5"),
        cursor("p=1\x00"),
        cursor("o=-1"),
        cursor("r=x"),
        "not base64 at all!",
        "%%%",
        base64.b64encode(b"\xff\xfe").decode(),
    ],
)
def test_a_cursor_that_points_nowhere_is_a_400(api, episode, url, raw):
    response = api.get(url_for(url, episode), {"cursor": raw})

    assert response.status_code == 400, response.content
    assert response.json() == {"cursor": ["Invalid cursor."]}


def test_the_cursors_a_list_hands_out_still_page_through_it(api, episode):
    for n in range(5):
        api.patch(f"/api/v1/episodes/{episode.pk}/", {"title": f"Take {n}"}, format="json")
    seen = []
    url = "/api/v1/activities/?page_size=2"
    while url:
        page = api.get(url).json()
        seen += [entry["id"] for entry in page["results"]]
        url = page["next"]

    back = api.get(page["previous"]) if page["previous"] else None

    assert seen == list(ActivityLog.objects.order_by("-id").values_list("id", flat=True))
    assert back is not None and back.status_code == 200


@pytest.mark.parametrize(
    "method, path",
    [
        ("get", "/api/v1/activities/{id}/"),
        ("get", "/api/v1/notifications/{id}/"),
        ("delete", "/api/v1/notifications/{id}/"),
        ("post", "/api/v1/notifications/{id}/read/"),
    ],
)
@pytest.mark.parametrize("raw_id", ["-1", "%00", "1e3", "\u0661"])
def test_an_integer_id_that_is_no_id_is_a_400(api, method, path, raw_id):
    response = getattr(api, method)(path.format(id=raw_id))

    assert response.status_code == 400, response.content
    assert "id" in response.json()


@pytest.mark.parametrize(
    "method, path",
    [
        ("get", "/api/v1/activities/{id}/"),
        ("get", "/api/v1/notifications/{id}/"),
        ("post", "/api/v1/notifications/{id}/read/"),
    ],
)
@pytest.mark.parametrize("raw_id", ["9223372036854775807", "9" * 20, "9" * 5000])
def test_an_id_past_every_row_is_a_404(api, method, path, raw_id):
    assert getattr(api, method)(path.format(id=raw_id)).status_code == 404
