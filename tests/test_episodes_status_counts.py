"""`GET /api/v1/episodes/status-counts/`: live episodes per status, for a dashboard's summary."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from episodes.models import Episode, EpisodeStatus

pytestmark = pytest.mark.django_db

URL = "/api/v1/episodes/status-counts/"


def counts(response) -> dict[str, int]:
    assert response.status_code == 200, response.content
    return {row["status"]: row["count"] for row in response.json()}


def test_every_status_is_listed_in_workflow_order_even_with_no_episodes(api):
    response = api.get(URL)

    assert response.status_code == 200
    assert response.json() == [{"status": status, "count": 0} for status in EpisodeStatus.values]


def test_counts_live_episodes_per_status_leaving_deleted_ones_out(api):
    for number, status in enumerate(["draft", "draft", "approved", "published", "draft"], 1):
        Episode.objects.create(title=f"E{number}", status=status)
    Episode.objects.create(title="Gone", status="approved", deleted_at=timezone.now())

    assert counts(api.get(URL)) == {
        "draft": 3,
        "pending": 0,
        "approved": 1,
        "published": 1,
        "archived": 0,
        "rejected": 0,
    }


def test_the_counts_follow_changes_made_through_the_api(api):
    created = api.post("/api/v1/episodes/", {"title": "Pilot"}, format="json").json()
    assert counts(api.get(URL))["draft"] == 1

    api.patch(f"/api/v1/episodes/{created['id']}/", {"status": "pending"}, format="json")
    after_update = counts(api.get(URL))
    api.delete(f"/api/v1/episodes/{created['id']}/")

    assert (after_update["draft"], after_update["pending"]) == (0, 1)
    assert sum(counts(api.get(URL)).values()) == 0


def test_one_query_whatever_the_number_of_episodes(api):
    Episode.objects.bulk_create(
        Episode(title=f"E{n}", status=EpisodeStatus.values[n % 6]) for n in range(60)
    )
    with CaptureQueriesContext(connection) as queries:
        body = counts(api.get(URL))

    assert sum(body.values()) == 60
    counting = [q["sql"] for q in queries.captured_queries if "episodes_episode" in q["sql"]]
    assert len(counting) == 1
    assert "GROUP BY" in counting[0].upper()


def test_needs_authentication(anon):
    assert anon.get(URL).status_code == 401


def test_is_not_mistaken_for_an_episode_id(api):
    assert api.get(URL.rstrip("/")).status_code == 200
