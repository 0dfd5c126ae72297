"""How many SQL queries each main endpoint makes, pinned: a change that adds one to every
request shows here first. Counted inside a test's transaction, where each `atomic` block is a
SAVEPOINT and its RELEASE (outside one, the outermost is BEGIN and COMMIT, which Django does
not count)."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from episodes import services
from jobs import registry
from jobs import services as job_services

pytestmark = pytest.mark.django_db

API = "/api/v1"
# The token, with its user and the user's permissions: every authenticated request.
AUTH = 1


def inserted_tables(sql: list[str]) -> list[str]:
    return re.findall(r'INSERT INTO "(\w+)"', " ".join(sql))


@pytest.fixture
def episodes(user):
    return [
        services.create_episode(user=user, data={"title": f"Episode {number}"})
        for number in range(25)
    ]


def queries(call) -> tuple[int, list[str]]:
    with CaptureQueriesContext(connection) as captured:
        response = call()
    assert response.status_code < 300, response.content
    return len(captured), [query["sql"] for query in captured]


def test_the_episode_list_reads_the_count_and_one_page(api, episodes):
    count, _ = queries(lambda: api.get(f"{API}/episodes/"))

    assert count == AUTH + 2


def test_a_filtered_episode_list_costs_no_more(api, episodes):
    count, _ = queries(lambda: api.get(f"{API}/episodes/", {"status": "draft", "search": "Ep"}))

    assert count == AUTH + 2


def test_the_list_reads_no_users_password_hash(api, episodes):
    _, sql = queries(lambda: api.get(f"{API}/episodes/"))

    assert not any("password" in query for query in sql[AUTH:])


def test_reading_an_episode_one_already_views(api, episodes):
    """The episode, and the other viewers with when the reader's own viewing expires: a
    viewing renewed moments ago needs no write."""
    url = f"{API}/episodes/{episodes[0].pk}/"
    api.get(url)

    count, _ = queries(lambda: api.get(url))

    assert count == AUTH + 2


def test_reading_an_episode_first_makes_the_reader_a_viewer_in_one_upsert(api, episodes):
    """The episode and its viewers, then in one block (a SAVEPOINT and its RELEASE): whether
    the reader views it already, their viewing as one INSERT ... ON CONFLICT, and the viewers
    their arrival is announced with, which name them too. On PostgreSQL a lock on the
    reader's joins and departures of the episode comes first."""
    url = f"{API}/episodes/{episodes[0].pk}/"

    count, sql = queries(lambda: api.get(url))

    lock = 1 if connection.vendor == "postgresql" else 0
    assert count == AUTH + 2 + 5 + lock
    assert inserted_tables(sql) == ["realtime_presence"]
    assert "ON CONFLICT" in sql[AUTH + 3 + lock + 1]


def test_creating_an_episode_writes_it_and_its_activity_row(api):
    """In the service's atomic block. The activity row is one statement: on PostgreSQL its
    own savepoint, which lets the write survive a failure to log it, goes in the same round
    trip (activity/inserts.py)."""
    count, sql = queries(lambda: api.post(f"{API}/episodes/", {"title": "New"}))

    assert inserted_tables(sql) == ["episodes_episode", "activity_activitylog"]

    assert count == AUTH + 2 + 1 + 1


def test_updating_an_episode_reads_it_once(api, episodes):
    url = f"{API}/episodes/{episodes[0].pk}/"

    count, sql = queries(lambda: api.patch(url, {"title": "Renamed"}))

    assert [query.split(" ")[0] for query in sql[AUTH:]].count("SELECT") == 1
    assert inserted_tables(sql) == ["activity_activitylog"]
    assert count == AUTH + 1 + 2 + 1 + 1


def test_a_conditional_update_costs_no_more(api, episodes):
    """The version is checked against the row's own UPDATE (RETURNING), not read first."""
    url = f"{API}/episodes/{episodes[0].pk}/"

    plain, _ = queries(lambda: api.patch(url, {"title": "Renamed"}))
    conditional, _ = queries(lambda: api.patch(url, {"title": "Again"}, HTTP_IF_MATCH='"2"'))

    assert conditional == plain


def test_the_job_list_reads_the_count_and_one_page(api, user):
    declared = registry.get("diagnostic")
    for _ in range(3):
        job_services.enqueue(declared, {}, user=user)

    count, _ = queries(lambda: api.get(f"{API}/jobs/"))

    assert count == AUTH + 2


def test_the_activity_log_reads_one_page(api, episodes):
    """And the names of the users its changes mention (`created_by`), once for the page."""
    count, _ = queries(lambda: api.get(f"{API}/activities/"))

    assert count == AUTH + 2
