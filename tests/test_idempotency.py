"""Idempotency keys on the creating POSTs: a retry gets the first answer and creates nothing."""

import threading
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from activity.models import ActivityLog
from episode_metadata.common.idempotency import services
from episode_metadata.common.idempotency.models import IdempotencyKey
from episodes.models import Composition, Episode, EpisodeFile
from jobs.models import Job
from tests.conftest import bearer_client, with_role
from tests.test_compositions_api import make_image
from tests.test_files_api import png

pytestmark = pytest.mark.django_db

EPISODES = "/api/v1/episodes/"
JOBS = "/api/v1/jobs/"
KEY = "4f9c6a52-retry-me"


def post(client, url, data, key=KEY, **extra):
    return client.post(url, data, format="json", HTTP_IDEMPOTENCY_KEY=key, **extra)


def created_episode_rows() -> int:
    return ActivityLog.objects.filter(resource_type="episode", action="create").count()


def test_a_retry_gets_the_first_answer_and_creates_nothing_more(api):
    first = post(api, EPISODES, {"title": "Pilot"})
    retry = post(api, EPISODES, {"title": "Pilot"})

    assert first.status_code == retry.status_code == 201
    assert retry.json() == first.json()
    assert retry.content == first.content
    assert "Idempotent-Replayed" not in first
    assert retry["Idempotent-Replayed"] == "true"
    assert Episode.objects.count() == 1
    assert created_episode_rows() == 1


def test_a_key_costs_its_lookup_claim_and_answer_and_a_retry_only_the_lookup(api):
    """Without the header a create costs what tests/test_query_counts.py pins. With it: the
    lookup, the transaction's savepoint and its release, the delete of an expired key, the
    insert in its savepoint, and the answer's update. A retry reads the key and nothing else."""
    with CaptureQueriesContext(connection) as plain:
        api.post(EPISODES, {"title": "Plain"}, format="json")
    with CaptureQueriesContext(connection) as first:
        post(api, EPISODES, {"title": "Pilot"})
    with CaptureQueriesContext(connection) as retry:
        post(api, EPISODES, {"title": "Pilot"})

    assert len(first) == len(plain) + 8
    assert len(retry) == 1 + 1  # the token with its user and their permissions; the key


def test_the_same_key_with_another_body_is_a_422(api):
    post(api, EPISODES, {"title": "Pilot"})

    response = post(api, EPISODES, {"title": "Another"})

    assert response.status_code == 422
    assert "different request" in response.json()["detail"]
    assert list(Episode.objects.values_list("title", flat=True)) == ["Pilot"]


def test_keys_are_per_user(api, django_user_model):
    other = with_role(django_user_model.objects.create_user(username="other"), "editor")

    mine = post(api, EPISODES, {"title": "Pilot"})
    theirs = post(bearer_client(other), EPISODES, {"title": "Pilot"})

    assert mine.status_code == theirs.status_code == 201
    assert "Idempotent-Replayed" not in theirs
    assert mine.json()["id"] != theirs.json()["id"]
    assert Episode.objects.count() == 2


@pytest.mark.parametrize("key", ["", "x" * 256, "clé", "tab\there", " padded", "line\n"])
def test_a_malformed_key_is_a_400_naming_the_header(api, key):
    response = post(api, EPISODES, {"title": "Pilot"}, key=key)

    assert response.status_code == 400
    assert "printable ASCII" in response.json()["Idempotency-Key"][0]
    assert not Episode.objects.exists()


def test_a_refused_request_keeps_no_key_so_the_fixed_one_runs(api):
    """Only a request that did its work keeps its answer: one that failed changed nothing."""
    refused = post(api, EPISODES, {"title": ""})
    fixed = post(api, EPISODES, {"title": "Pilot"})

    assert refused.status_code == 400
    assert fixed.status_code == 201
    assert "Idempotent-Replayed" not in fixed


def test_an_expired_key_runs_the_request_again(api):
    first = post(api, EPISODES, {"title": "Pilot"})
    IdempotencyKey.objects.update(created_at=timezone.now() - timedelta(hours=25))

    again = post(api, EPISODES, {"title": "Pilot"})

    assert again.status_code == 201
    assert again.json()["id"] != first.json()["id"]
    assert IdempotencyKey.objects.count() == 1


def test_an_upload_replays_with_its_location(api, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    episode = api.post(EPISODES, {"title": "Pilot"}, format="json").json()
    url = f"{EPISODES}{episode['id']}/files/"

    def upload(content: bytes):
        part = SimpleUploadedFile("cover.png", content, content_type="image/png")
        return api.post(url, {"file": part}, format="multipart", HTTP_IDEMPOTENCY_KEY=KEY)

    first, retry = upload(png()), upload(png())
    other_content = upload(png(color=(0, 0, 255)))

    assert first.status_code == retry.status_code == 201, first.content
    assert retry.json() == first.json()
    assert retry["Location"] == first["Location"]
    assert retry["Idempotent-Replayed"] == "true"
    assert other_content.status_code == 422
    assert EpisodeFile.objects.count() == 1
    assert Job.objects.filter(job_type="file_metadata").count() == 1


def test_a_composition_replays(api, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    episode = Episode.objects.create(title="Pilot")
    image = make_image(episode)
    body = {
        "episode": str(episode.pk),
        "name": "Main thumbnail",
        "layout": "single",
        "assets": [str(image.pk)],
        "formats": ["youtube"],
    }

    first = post(api, "/api/v1/compositions/", body)
    retry = post(api, "/api/v1/compositions/", body)

    assert first.status_code == retry.status_code == 201, first.content
    assert retry.json() == first.json()
    assert retry["Idempotent-Replayed"] == "true"
    assert Composition.objects.count() == 1


def test_a_render_replays_and_starts_one_job(api, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    episode = Episode.objects.create(title="Pilot")
    body = {
        "episode": str(episode.pk),
        "name": "Main thumbnail",
        "layout": "single",
        "assets": [str(make_image(episode).pk)],
        "formats": ["youtube"],
    }
    composition = post(api, "/api/v1/compositions/", body, key="create").json()
    render = f"/api/v1/compositions/{composition['id']}/render/"

    first = post(api, render, {})
    retry = post(api, render, {})

    assert first.status_code == retry.status_code == 202, first.content
    assert retry.json()["id"] == first.json()["id"]
    assert retry["Idempotent-Replayed"] == "true"
    assert Job.objects.filter(job_type="thumbnail_render").count() == 1


def test_a_job_replays(api):
    first = post(api, JOBS, {"job_type": "diagnostic"})
    retry = post(api, JOBS, {"job_type": "diagnostic"})

    assert first.status_code == retry.status_code == 201
    assert retry.json()["id"] == first.json()["id"]
    assert retry["Idempotent-Replayed"] == "true"
    assert Job.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_posts_with_one_key_make_one_episode(user):
    """Each thread has its own database connection: the first request holds the key's row
    until it commits, and the others then answer with its episode."""
    clients = [bearer_client(user) for _ in range(20)]
    start = threading.Barrier(len(clients))
    answers, failures = [], []

    def send(client):
        try:
            start.wait()
            answers.append(post(client, EPISODES, {"title": "Pilot"}))
        except Exception as exc:
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=send, args=(client,)) for client in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert failures == []
    assert [answer.status_code for answer in answers] == [201] * 20
    assert len({answer.json()["id"] for answer in answers}) == 1
    assert sum("Idempotent-Replayed" in answer for answer in answers) == 19
    assert Episode.objects.count() == 1
    assert created_episode_rows() == 1


def test_the_purge_removes_only_expired_keys(user, monkeypatch):
    monkeypatch.setattr(services, "PURGE_BATCH", 2)
    now = timezone.now()
    for number, age in enumerate([25, 24, 30, 23, 1]):
        IdempotencyKey.objects.create(
            user=user,
            key=f"key-{number}",
            fingerprint="0" * 64,
            response_status=201,
            created_at=now - timedelta(hours=age),
        )

    assert services.purge_expired_keys(now=now) == 3
    assert sorted(IdempotencyKey.objects.values_list("key", flat=True)) == ["key-3", "key-4"]
    assert services.purge_expired_keys(now=now) == 0


def test_the_admin_shows_keys_read_only(admin_client, api):
    post(api, EPISODES, {"title": "Pilot"})
    row = IdempotencyKey.objects.get()

    page = admin_client.get(reverse("admin:idempotency_idempotencykey_change", args=[row.pk]))

    assert page.status_code == 200
    assert KEY in page.text and "Pilot" in page.text
    assert admin_client.get(reverse("admin:idempotency_idempotencykey_add")).status_code == 403
